#!/usr/bin/env python3
"""Real DICOM peers for medsurface's tests, on loopback, with synthetic studies.

    peers.py start --state DIR      start every peer, load studies, write DIR/peers.json
    peers.py stop  --state DIR      stop the peers recorded in DIR/peers.json (by pid)
    peers.py serve-pynetdicom ...   (internal) one pynetdicom SCP in the foreground

Every peer gets a free port at or above 14242 (so parallel runs and other services do not
collide). Orthanc and DCMTK cannot bind one address: they listen on all addresses, but tests only
ever connect to 127.0.0.1. The pynetdicom SCPs bind 127.0.0.1.

Readiness is polled with bounded loops; nothing sleeps to synchronise.

Patient data is synthetic: names MEDSURFACE^CANARY^<random>, ids CANARY-<random>. peers.json
lists them so tests can prove they never reach any output, log or database.
"""

import argparse
import datetime
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import base64
import ssl

from peerlib import free_port, kill, spawn, stop_manifest, wait_tcp

PORT_BASE = 14242
HERE = os.path.dirname(os.path.abspath(__file__))

# What a test needs to know about each peer besides its port: the titles it answers to. The
# verdicts these configurations cause are asserted in crates/scan/tests/dicom_peers.rs.
TITLES = {
    "orthanc-open": {"ae_title": "ORTHANC"},
    "orthanc-strict": {"ae_title": "ORTHANC-STRICT", "trusted_calling_ae": "TRUSTED"},
    "dcmqrscp": {"ae_title": "COMMON", "restricted_ae_title": "ACME_STORE",
                 "trusted_calling_ae": "ACME1"},
    "storescp": {"ae_title": "STORESCP"},
    "pynetdicom-open": {"ae_title": "PYNETDICOM"},
    "pynetdicom-strict": {"ae_title": "PYSTRICT", "trusted_calling_ae": "TRUSTED"},
    "pynetdicom-vendor": {"ae_title": "PYNETDICOM"},
    "pynetdicom-leaky": {"ae_title": "PYNETDICOM"},
    "pynetdicom-tls": {"ae_title": "PYNETDICOM"},
}


def wait_http(port, auth, what, attempts=200):
    for _ in range(attempts):
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/system")
            if auth:
                req.add_header("Authorization", auth)
            with urllib.request.urlopen(req, timeout=0.5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} HTTP did not answer on {port}")


def make_studies(outdir, count):
    """Writes `count` synthetic studies (one Secondary Capture instance each)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    os.makedirs(outdir, exist_ok=True)
    canaries = []
    files = []
    for i in range(count):
        tag = secrets.token_hex(6).upper()
        name = f"MEDSURFACE^CANARY^{tag}"
        pid = f"CANARY-{tag}"
        canaries.append({"patient_name": name, "patient_id": pid})
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = name
        ds.PatientID = pid
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.StudyID = str(i + 1)
        ds.AccessionNumber = f"ACC{tag[:8]}"
        ds.StudyDate = datetime.date.today().strftime("%Y%m%d")
        ds.StudyTime = "120000"
        ds.StudyDescription = "medsurface synthetic canary study"
        ds.Modality = "OT"
        ds.ConversionType = "SYN"
        ds.SeriesNumber = 1
        ds.InstanceNumber = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = 2
        ds.Columns = 2
        ds.BitsAllocated = 8
        ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = bytes([0, 64, 128, 255])
        path = os.path.join(outdir, f"study{i}.dcm")
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files, canaries


def orthanc_config(path, name, dicom_port, http_port, strict, storage, password):
    cfg = {
        "Name": name,
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "DicomAet": "ORTHANC",
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "Plugins": [],
        "HttpServerEnabled": True,
        "StableAge": 1,
    }
    if strict:
        cfg.update({
            "DicomAet": "ORTHANC-STRICT",
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": False,
            "DicomAlwaysAllowStore": False,
            "DicomAlwaysAllowFind": False,
            "DicomAlwaysAllowFindWorklist": False,
            "DicomAlwaysAllowGet": False,
            "DicomAlwaysAllowMove": False,
            "DicomCheckModalityHost": True,
            "DicomModalities": {
                "trusted": {"AET": "TRUSTED", "Host": "127.0.0.1", "Port": 4000,
                            "AllowEcho": True, "AllowFind": True},
            },
            "AuthenticationEnabled": True,
            "RegisteredUsers": {"lab": password},
        })
    else:
        cfg.update({
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "AuthenticationEnabled": False,
        })
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def orthanc_upload(http_port, files, auth):
    for path in files:
        with open(path, "rb") as f:
            req = urllib.request.Request(f"http://127.0.0.1:{http_port}/instances",
                                         data=f.read(), method="POST")
        req.add_header("Content-Type", "application/dicom")
        if auth:
            req.add_header("Authorization", auth)
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise SystemExit(f"upload to Orthanc failed: {r.status}")


def start(state):
    os.makedirs(state, exist_ok=True)
    if os.path.exists(os.path.join(state, "peers.json")):
        stop(state)
    taken = set()
    files, canaries = make_studies(os.path.join(state, "studies"), 3)
    peers = {}
    procs = []
    log = open(os.path.join(state, "peers.log"), "ab")

    def record(name, port, proc, **extra):
        peers[name] = {"port": port, "pid": proc.pid, **TITLES[name], **extra}
        procs.append(proc)

    try:
        # Orthanc, open and strict.
        password = secrets.token_hex(12)
        for name, strict in (("orthanc-open", False), ("orthanc-strict", True)):
            dport, hport = free_port(PORT_BASE, taken, "0.0.0.0"), free_port(PORT_BASE + 4000, taken, "0.0.0.0")
            storage = os.path.join(state, name)
            shutil.rmtree(storage, ignore_errors=True)
            os.makedirs(storage)
            cfg = os.path.join(state, f"{name}.json")
            orthanc_config(cfg, name, dport, hport, strict, storage, password)
            proc = spawn([shutil.which("Orthanc") or "/usr/sbin/Orthanc", cfg], log)
            auth = None
            if strict:
                auth = "Basic " + base64.b64encode(f"lab:{password}".encode()).decode()
            wait_tcp(dport, proc, name)
            wait_http(hport, auth, name)
            orthanc_upload(hport, files, auth)
            record(name, dport, proc, http_port=hport)

        # DCMTK dcmqrscp: COMMON open to any peer, ACME_STORE only for calling AE ACME1.
        port = free_port(PORT_BASE, taken, "0.0.0.0")
        db = os.path.join(state, "dcmqrscp")
        shutil.rmtree(db, ignore_errors=True)
        for ae in ("COMMON", "ACME_STORE"):
            os.makedirs(os.path.join(db, ae))
            subprocess.run(["dcmqridx", os.path.join(db, ae), *files], check=True,
                           stdout=log, stderr=subprocess.STDOUT)
        cfg = os.path.join(state, "dcmqrscp.cfg")
        with open(cfg, "w") as f:
            f.write(f"""NetworkTCPPort = {port}
MaxPDUSize = 16384
MaxAssociations = 16
HostTable BEGIN
acme1 = (ACME1, localhost, 0)
acme = acme1
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
COMMON {db}/COMMON R (20, 64mb) ANY
ACME_STORE {db}/ACME_STORE R (20, 64mb) acme
AETable END
""")
        # Forking mode: dcmqrscp 3.6.7 --single-process segfaults after the first released
        # association (seen here, exit 139). Its children share the process group we kill.
        proc = spawn(["dcmqrscp", "-c", cfg], log)
        wait_tcp(port, proc, "dcmqrscp")
        record("dcmqrscp", port, proc)

        # DCMTK storescp: storage and verification only, no query.
        port = free_port(PORT_BASE, taken, "0.0.0.0")
        out = os.path.join(state, "storescp")
        os.makedirs(out, exist_ok=True)
        proc = spawn(["storescp", "--aetitle", "STORESCP", "--output-directory", out, str(port)], log)
        wait_tcp(port, proc, "storescp")
        record("storescp", port, proc)

        # pynetdicom SCPs; the TLS one with a fresh self-signed certificate.
        studies = os.path.join(state, "studies")
        cert, key = os.path.join(state, "tls-cert.pem"), os.path.join(state, "tls-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=medsurface-lab", "-keyout", key, "-out", cert],
                       check=True, stdout=log, stderr=subprocess.STDOUT)
        for name, mode in (("pynetdicom-open", "open"), ("pynetdicom-strict", "strict"),
                           ("pynetdicom-vendor", "vendor"), ("pynetdicom-leaky", "leaky"),
                           ("pynetdicom-tls", "tls")):
            port = free_port(PORT_BASE, taken, "0.0.0.0")
            proc = spawn([sys.executable, os.path.abspath(__file__), "serve-pynetdicom",
                          "--mode", mode, "--port", str(port), "--studies", studies,
                          "--cert", cert, "--key", key], log)
            wait_tcp(port, proc, name)
            record(name, port, proc)
    except BaseException:
        for p in procs:
            kill(p.pid)
        raise

    with open(os.path.join(state, "peers.json"), "w") as f:
        json.dump({"peers": peers, "canaries": canaries}, f, indent=1)
    print(json.dumps({"peers": {k: v["port"] for k, v in peers.items()}}))


def stop(state):
    stop_manifest(state, "peers.json")


def serve_pynetdicom(mode, port, studies, cert=None, key=None):
    """One pynetdicom SCP. Modes:
    open    any called/calling AE; echo; Study/Patient Root FIND matching the synthetic studies
            (identifiers carry only the requested keys, as a correct server's do)
    strict  called AE must be PYSTRICT and calling AE TRUSTED
    vendor  presents Conquest's implementation class UID and version name; FIND refused (A700)
    leaky   ignores the query keys and returns whole records (names and ids included): a
            hostile server, to prove medsurface discards what it was not asking for
    tls     as open, inside TLS (self-signed certificate)
    """
    from pydicom import dcmread
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import (
        Verification,
        StudyRootQueryRetrieveInformationModelFind,
        PatientRootQueryRetrieveInformationModelFind,
    )

    records = [dcmread(os.path.join(studies, f)) for f in sorted(os.listdir(studies))
               if f.endswith(".dcm")]
    ae = AE(ae_title="PYSTRICT" if mode == "strict" else "PYNETDICOM")
    ae.add_supported_context(Verification)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
    if mode == "strict":
        ae.require_called_aet = True
        ae.require_calling_aet = ["TRUSTED"]
    if mode == "vendor":
        ae.implementation_class_uid = "1.2.826.0.1.3680043.2.135.1066.101"
        ae.implementation_version_name = "1.5.0/WIN32"

    def matches(query, rec):
        for elem in query:
            if elem.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
                continue
            want = elem.value
            if want in (None, "", b"") or want == "*":
                continue
            if str(rec.get(elem.keyword, "")) != str(want):
                return False
        return True

    def on_find(event):
        query = event.identifier
        if mode == "vendor":
            yield 0xA700, None
            return
        for rec in records:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            if mode == "leaky":
                yield 0xFF00, rec
                continue
            if matches(query, rec):
                out = Dataset()
                out.QueryRetrieveLevel = query.QueryRetrieveLevel
                for elem in query:
                    if elem.keyword and elem.keyword != "QueryRetrieveLevel":
                        setattr(out, elem.keyword, rec.get(elem.keyword, ""))
                yield 0xFF00, out
        yield 0x0000, None

    handlers = [(evt.EVT_C_FIND, on_find)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tls = None
    if mode == "tls":
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
    ae.start_server(("127.0.0.1", port), block=True, evt_handlers=handlers, ssl_context=tls)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop"):
        s = sub.add_parser(name)
        s.add_argument("--state", required=True)
    s = sub.add_parser("serve-pynetdicom")
    s.add_argument("--mode", required=True, choices=["open", "strict", "vendor", "leaky", "tls"])
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--studies", required=True)
    s.add_argument("--cert")
    s.add_argument("--key")
    a = p.parse_args()
    if a.cmd == "start":
        start(a.state)
    elif a.cmd == "stop":
        stop(a.state)
    else:
        serve_pynetdicom(a.mode, a.port, a.studies, a.cert, a.key)


if __name__ == "__main__":
    main()
