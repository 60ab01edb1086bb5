"""Writes MDS2-shaped workbooks (ANSI/NEMA HN 1-2019 layout) with synthetic answers.

The 2019 form is one sheet of rows: a question ID (DOC-1, MPII-1, STCF-1, ...), the question,
the answer (Yes / No / N/A / See Note, or free text for the DOC rows), a note, and reference
columns (IEC TR 80001-2-2:2012, NIST SP 800-53 Rev. 4, ISO 27002:2013). Section titles sit on
rows of their own without an ID. Question texts here are short paraphrases; the answers are
invented for a fictional device. No real vendor's disclosure is copied.

usage: make_mds2.py OUTDIR   (writes mds2-standard.xlsx, mds2-shifted.xlsx, mds2-no-id.xlsx,
                              mds2-truncated.xlsx)
"""

import sys
from pathlib import Path

from openpyxl import Workbook

REFS = ["IEC TR 80001-2-2:2012", "NIST SP 800-53 Rev. 4", "ISO 27002:2013"]

# (id, question paraphrase, answer, note). None as id: a section title row.
ROWS = [
    ("DOC-1", "Manufacturer name", "Example Medical Devices", ""),
    ("DOC-2", "Device description", "Synthetic infusion gateway", ""),
    ("DOC-3", "Device model", "SIG-200", ""),
    ("DOC-4", "Document ID", "MDS2-SIG-200-01", ""),
    ("DOC-7", "Document release date", "2026-01-15", ""),
    (None, "MANAGEMENT OF PERSONALLY IDENTIFIABLE INFORMATION", None, None),
    ("MPII-1", "Can the device display, transmit, store or modify PII?", "Yes", ""),
    ("MPII-2", "Does the device maintain PII?", "Yes", ""),
    (None, "AUDIT CONTROLS (AUDT)", None, None),
    ("AUDT-1", "Can the device create audit logs beyond OS logs?", "Yes", ""),
    ("AUDT-2", "Are events recorded in an audit log?", "Yes", ""),
    ("AUDT-2.8.1", "Remote or on-site support recorded?", "No", ""),
    ("AUDT-7", "Are audit logs protected from modification?", "No", "1"),
    (None, "AUTHORIZATION (AUTH)", None, None),
    ("AUTH-1", "Does the device prevent access by unauthorized users (login)?", "Yes", ""),
    (None, "CYBER SECURITY PRODUCT UPGRADES (CSUP)", None, None),
    ("CSUP-1", "Does the device contain software that may need security updates?", "Yes", ""),
    ("CSUP-2.1", "Instructions for owner/operator installation of OS patches?", "No", ""),
    ("CSUP-2.2", "Vendor or vendor-authorized service required to install OS patches?", "Yes", ""),
    ("CSUP-7", "Does the manufacturer notify the customer of approved updates?", "Yes", ""),
    ("CSUP-11", "Does the manufacturer assess device vulnerabilities and updates?", "", ""),
    (None, "NODE AUTHENTICATION (NAUT)", None, None),
    ("NAUT-1", "Does the device support node authentication?", "No", ""),
    (None, "CONNECTIVITY CAPABILITIES (CONN)", None, None),
    ("CONN-7", "Does the device support TLS?", "Yes", ""),
    (None, "PERSON AUTHENTICATION (PAUT)", None, None),
    ("PAUT-1", "Unique IDs and passwords for all users and roles?", "Yes", ""),
    ("PAUT-3", "Lock out a user after unsuccessful logons?", "Yes", ""),
    ("PAUT-4", "Are all default accounts listed in the documentation?", "No", "2"),
    ("PAUT-5", "Can all passwords be changed?", "No", "See note 2"),
    (None, "ROADMAP FOR THIRD PARTY COMPONENTS (RDMP)", None, None),
    ("RDMP-4", "Plan for managing third-party component end-of-life?", "Yes", ""),
    (None, "SOFTWARE BILL OF MATERIALS (SBoM)", None, None),
    ("SBOM-1", "Is the SBoM for this product available?", "Yes", ""),
    (None, "SYSTEM AND APPLICATION HARDENING (SAHD)", None, None),
    ("SAHD-8", "Are unneeded ports and protocols disabled?", "Yes", ""),
    (None, "HEALTH DATA STORAGE CONFIDENTIALITY (STCF)", None, None),
    ("STCF-1", "Can the device encrypt data at rest?", "No", ""),
    ("STCF-1.2", "Is data encryption configured by default?", "N/A", ""),
    (None, "TRANSMISSION CONFIDENTIALITY (TXCF)", None, None),
    ("TXCF-2", "Is PII encrypted prior to transmission?", "No", "3"),
    (None, "TRANSMISSION INTEGRITY (TXIG)", None, None),
    ("TXIG-1", "Mechanism to ensure data is not modified in transmission?", "Yes", ""),
    (None, "REMOTE SERVICE (RMOT)", None, None),
    ("RMOT-1", "Does the device permit remote service connections?", "Yes", ""),
    ("RMOT-1.2", "Is there an indicator for an active remote session?", "No", ""),
    ("RMOT-1.3", "Can patient data be accessed during the remote session?", "Yes", ""),
]


def standard(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "MDS2"
    ws.append(["Manufacturer Disclosure Statement for Medical Device Security -- MDS2"])
    ws.append(["Example Medical Devices", "SIG-200", "MDS2-SIG-200-01", "2026-01-15"])
    ws.append([])
    ws.append(["Question ID", "Question", "Yes, No, N/A, or See Note", "Note #"] + REFS)
    for qid, text, answer, note in ROWS:
        if qid is None:
            ws.append([None, text])
        else:
            ws.append([qid, text, answer, note, "", "", ""])
    wb.save(path)


def shifted(path: Path) -> None:
    """Same answers, another layout: an instructions sheet first, a blank first column, the
    answer column without a header, notes before the answers, answers in other spellings."""
    wb = Workbook()
    intro = wb.active
    intro.title = "Instructions"
    intro.append(["How to fill in this form"])
    intro.append(["Question ID", "Answer each question with Yes, No or N/A"])  # prose, no rows
    ws = wb.create_sheet("Form")
    for _ in range(5):
        ws.append([])
    ws.append([None, "ID", "Question text", "Note", None] + REFS)
    spelled = {"Yes": "yes", "No": "NO", "N/A": "n/a"}
    for qid, text, answer, note in ROWS:
        if qid is None:
            ws.append([None, None, text])
        else:
            a = spelled.get(answer, answer)
            if qid == "PAUT-5":
                a = "No - see note 2"
            ws.append([None, qid, text, note, a, "", "", ""])
    wb.save(path)


def no_id(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "MDS2"
    ws.append(["Question", "Answer", "Note"])
    for qid, text, answer, note in ROWS:
        if qid is not None:
            ws.append([text, answer, note])
    wb.save(path)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    standard(out / "mds2-standard.xlsx")
    shifted(out / "mds2-shifted.xlsx")
    no_id(out / "mds2-no-id.xlsx")
    data = (out / "mds2-standard.xlsx").read_bytes()
    (out / "mds2-truncated.xlsx").write_bytes(data[: len(data) // 2])


if __name__ == "__main__":
    main()
