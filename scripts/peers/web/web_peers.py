#!/usr/bin/env python3
"""Real web peers for medsurface's web, TLS, FHIR and DICOMweb probes, on loopback.

    web_peers.py start --state DIR   start every peer, write DIR/web-peers.json
    web_peers.py stop  --state DIR   stop the peers recorded there (by pid)

Peers (each on a free port at or above 24080, clear of the DICOM lab's 14242+/18242+):
  orthanc-web-open     Orthanc 1.10 (Debian) with the DICOMweb plugin, no authentication
  orthanc-web-locked   the same behind HTTP Basic authentication (401, realm "Orthanc Secure Area")
  fhir-open            node-fhir-server-core R4, anyone may search
  fhir-locked          the same with bearer authentication (every token refused) and
                       SMART-on-FHIR declared
  tls-modern           openssl s_server -www, TLS 1.2/1.3, self-signed certificate with an
                       organisation and SANs
  tls-legacy           openssl s_server -www -tls1, TLS 1.0 only (field-notes' command)

Orthanc cannot bind one address: it takes its ports on all addresses; tests only connect to
127.0.0.1. Everything else binds 127.0.0.1. Readiness is polled with bounded loops; nothing
sleeps to synchronise.

Patient data is synthetic: FHIR patients MEDSURFACE^CANARY^<random> with ids canary-<random>,
and one DICOM study per Orthanc with the same kind of names. web-peers.json lists them so the
tests can prove they never reach any output.
"""

import argparse
import base64
import json
import os
import secrets
import shutil
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from peerlib import free_port, kill, spawn, stop_manifest, wait_tcp  # noqa: E402

PORT_BASE = 24080
HERE = os.path.dirname(os.path.abspath(__file__))
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def wait_http(port, path, auth, proc, what, attempts=300):
    for _ in range(attempts):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode})")
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
            if auth:
                req.add_header("Authorization", auth)
            with urllib.request.urlopen(req, timeout=0.5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not answer HTTP on {port}")


def element(group, elem, vr, value):
    """One explicit-VR little-endian data element."""
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def synthetic_study(path, tag):
    """A minimal Part 10 Secondary Capture file of a canary patient (no pydicom needed)."""
    sop_class = b"1.2.840.10008.5.1.4.1.1.7"
    uid = lambda: ("2.25.%d" % int.from_bytes(secrets.token_bytes(15), "big")).encode()
    sop = uid()
    meta_body = (element(0x0002, 0x0001, b"OB", b"\0\1")
                 + element(0x0002, 0x0002, b"UI", sop_class)
                 + element(0x0002, 0x0003, b"UI", sop)
                 + element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1")
                 + element(0x0002, 0x0012, b"UI", b"1.2.826.0.1.3680043.9.9999.1"))
    meta = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    ds = (element(0x0008, 0x0016, b"UI", sop_class)
          + element(0x0008, 0x0018, b"UI", sop)
          + element(0x0008, 0x0020, b"DA", b"20260101")
          + element(0x0008, 0x0060, b"CS", b"OT")
          + element(0x0010, 0x0010, b"PN", f"MEDSURFACE^CANARY^{tag}".encode())
          + element(0x0010, 0x0020, b"LO", f"CANARY-{tag}".encode())
          + element(0x0020, 0x000D, b"UI", uid())
          + element(0x0020, 0x000E, b"UI", uid()))
    with open(path, "wb") as f:
        f.write(b"\0" * 128 + b"DICM" + meta + ds)


def orthanc(state, name, taken, log, locked, password, study):
    http_port, dicom_port = free_port(PORT_BASE, taken, "0.0.0.0"), free_port(PORT_BASE, taken, "0.0.0.0")
    storage = os.path.join(state, name)
    shutil.rmtree(storage, ignore_errors=True)
    os.makedirs(storage)
    cfg = {
        "Name": name,
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "DicomAet": "ORTHANCWEB",
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "HttpServerEnabled": True,
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "AuthenticationEnabled": locked,
    }
    if locked:
        cfg["RegisteredUsers"] = {"lab": password}
    path = os.path.join(state, f"{name}.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    proc = spawn([shutil.which("Orthanc") or "/usr/sbin/Orthanc", path], log)
    auth = "Basic " + base64.b64encode(f"lab:{password}".encode()).decode() if locked else None
    wait_http(http_port, "/system", auth, proc, name)
    with open(study, "rb") as f:
        req = urllib.request.Request(f"http://127.0.0.1:{http_port}/instances", data=f.read(),
                                     method="POST")
    req.add_header("Content-Type", "application/dicom")
    if auth:
        req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200:
            raise SystemExit(f"upload to {name} failed: {r.status}")
    return http_port, proc


def certificate(state, name, subject, sans):
    key, cert = os.path.join(state, f"{name}.key"), os.path.join(state, f"{name}.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "30", "-subj", subject, "-addext",
                    f"subjectAltName={sans}"], check=True, capture_output=True)
    return key, cert


def start(state):
    os.makedirs(state, exist_ok=True)
    if os.path.exists(os.path.join(state, "web-peers.json")):
        stop(state)
    taken, peers, procs = set(), {}, []
    log = open(os.path.join(state, "web-peers.log"), "ab")

    def record(name, port, proc, **extra):
        peers[name] = {"port": port, "pid": proc.pid, **extra}
        procs.append(proc)

    canaries = []
    try:
        # Orthanc, open and locked, each holding one canary study.
        password = secrets.token_hex(12)
        for name, locked in (("orthanc-web-open", False), ("orthanc-web-locked", True)):
            tag = secrets.token_hex(6).upper()
            canaries += [f"MEDSURFACE^CANARY^{tag}", f"CANARY-{tag}", tag]
            study = os.path.join(state, f"{name}.dcm")
            synthetic_study(study, tag)
            port, proc = orthanc(state, name, taken, log, locked, password, study)
            record(name, port, proc)

        # node-fhir-server-core, open and locked, with planted canary patients.
        patients = []
        for _ in range(3):
            tag = secrets.token_hex(6).upper()
            patients.append({"id": f"canary-{tag.lower()}", "family": "MEDSURFACE",
                             "given": f"CANARY^{tag}"})
            canaries += [f"CANARY^{tag}", f"canary-{tag.lower()}", tag]
        pfile = os.path.join(state, "fhir-patients.json")
        with open(pfile, "w") as f:
            json.dump(patients, f)
        for name, mode in (("fhir-open", "open"), ("fhir-locked", "locked")):
            port = free_port(PORT_BASE, taken, "0.0.0.0")
            proc = spawn(["node", os.path.join(HERE, "fhir", "server.js"), str(port), mode, pfile],
                         log, env={**os.environ, "NODE_ENV": "production"})
            wait_http(port, "/4_0_1/metadata", None, proc, name)
            record(name, port, proc, base="/4_0_1")

        # openssl s_server: modern TLS with an organisation, and TLS 1.0 only.
        key, cert = certificate(state, "tls-modern",
                                "/C=CH/O=Medsurface Test Hospital/CN=pacs.test.invalid",
                                "DNS:pacs.test.invalid,IP:127.0.0.1")
        port = free_port(PORT_BASE, taken, "0.0.0.0")
        proc = spawn(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert,
                      "-key", key, "-www", "-quiet"], log)
        wait_tcp(port, proc, "tls-modern")
        record("tls-modern", port, proc, org="Medsurface Test Hospital")

        key, cert = certificate(state, "tls-legacy",
                                "/C=DE/O=Legacy Modality Vendor/CN=modality.test.invalid",
                                "DNS:modality.test.invalid")
        port = free_port(PORT_BASE, taken, "0.0.0.0")
        proc = spawn(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert,
                      "-key", key, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www", "-quiet"],
                     log)
        wait_tcp(port, proc, "tls-legacy")
        record("tls-legacy", port, proc, org="Legacy Modality Vendor")
    except BaseException:
        for p in procs:
            kill(p.pid)
        raise

    with open(os.path.join(state, "web-peers.json"), "w") as f:
        json.dump({"peers": peers, "canaries": canaries}, f, indent=1)
    print(json.dumps({"peers": {k: v["port"] for k, v in peers.items()}}))


def stop(state):
    stop_manifest(state, "web-peers.json")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop"):
        sub.add_parser(name).add_argument("--state", required=True)
    a = p.parse_args()
    if a.cmd == "start":
        start(a.state)
    else:
        stop(a.state)


if __name__ == "__main__":
    main()
