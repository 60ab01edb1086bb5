#!/usr/bin/env python3
"""Writes a synthetic Shodan-format corpus (newline-delimited JSON banners) for the ingest
benchmark: deterministic for a seed, realistic in shape and mix, containing no real host.

The mix follows the research (field-notes.md): DICOM servers (text and raw A-ASSOCIATE-AC/RJ
banners, DCMTK, Orthanc, vendor implementation UIDs), Orthanc Explorer, EMR login pages
(OpenEMR-like), Mirth Connect admin consoles, pharmacy management and patient scheduling pages, a
FHIR CapabilityStatement, HL7 MLLP answers, databases (MongoDB, Elasticsearch, MySQL, PostgreSQL,
Redis), and a majority of ordinary noise (default web pages, SSH, RDP, FTP, telnet, DNS). Every
field Shodan exports is there, including the awkward ones: `ssl.cert.serial` as a float, null
`location.city`, `ipv6` banners, `vulns`, `opts.raw` hex, sub-second timestamps without a zone.

Addresses: IPv4 from 198.18.0.0/15 (RFC 2544, reserved for benchmarking; never a real host) and
IPv6 from 2001:db8::/32 (documentation). Host and organisation names use `.example`.

    python3 bench/gen_shodan.py --size-mb 1024 --seed 1 -o /tmp/shodan-corpus.jsonl
    python3 bench/gen_shodan.py --size-mb 256 --gzip -o /tmp/shodan-corpus.json.gz

`--gzip` writes one gzip member per 64 MiB of text (multi-member, as Shodan downloads sometimes
are).
"""

import argparse
import gzip
import json
import random
import sys
import uuid

COUNTRIES = [
    # (code, name, weight, cities)
    ("US", "United States", 33, ["Boston", "Houston", "Chicago", "Seattle", "Atlanta"]),
    ("DE", "Germany", 6, ["Munich", "Berlin", "Hamburg"]),
    ("GB", "United Kingdom", 5, ["London", "Manchester", "Leeds"]),
    ("BR", "Brazil", 5, ["Sao Paulo", "Rio de Janeiro"]),
    ("IN", "India", 5, ["Mumbai", "Bengaluru"]),
    ("FR", "France", 4, ["Paris", "Lyon"]),
    ("JP", "Japan", 4, ["Tokyo", "Osaka"]),
    ("KR", "South Korea", 3, ["Seoul"]),
    ("CN", "China", 4, ["Beijing", "Shanghai"]),
    ("IT", "Italy", 3, ["Milan", "Rome"]),
    ("ES", "Spain", 3, ["Madrid", "Barcelona"]),
    ("NL", "Netherlands", 2, ["Amsterdam", "Utrecht"]),
    ("CA", "Canada", 3, ["Toronto", "Montreal"]),
    ("AU", "Australia", 2, ["Sydney", "Melbourne"]),
    ("TR", "Turkey", 3, ["Istanbul", "Ankara"]),
    ("MX", "Mexico", 2, ["Mexico City"]),
    ("TW", "Taiwan", 2, ["Taipei"]),
    ("IR", "Iran", 2, ["Tehran"]),
    ("VN", "Vietnam", 2, ["Hanoi"]),
    ("AR", "Argentina", 1, ["Buenos Aires"]),
    ("ZA", "South Africa", 1, ["Johannesburg"]),
    ("SE", "Sweden", 1, ["Stockholm"]),
    ("CH", "Switzerland", 1, ["Zurich"]),
    ("PL", "Poland", 1, ["Warsaw"]),
    ("TH", "Thailand", 1, ["Bangkok"]),
]

ORGS = [
    ("Example University Hospital", "Example Research Network", "university"),
    ("Example State University", "Example Research Network", "university"),
    ("Universitaetsklinikum Beispiel", "Beispiel Forschungsnetz", "university"),
    ("Example General Hospital", "Example Telecom", "hospital"),
    ("Northwind Imaging Center", "Example Telecom", "hospital"),
    ("Fabrikam Clinica Medica", "Example Fibra", "hospital"),
    ("Contoso Radiology Group", "Example Cable", "hospital"),
    ("Example Cloud Hosting GmbH", "Example Cloud Hosting GmbH", "cloud"),
    ("ExampleCloud Compute", "ExampleCloud Compute", "cloud"),
    ("Example Broadband", "Example Broadband", "isp"),
    ("Example Mobile", "Example Mobile", "isp"),
    ("Ministry of Health Example", "Example Government Network", "government"),
]

DICOM_IMPLS = [
    ("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367", "ANY-SCP"),
    ("1.2.276.0.7230010.3.0.3.6.6", "OFFIS_DCMTK_366", "ANY-SCP"),
    ("1.2.276.0.7230010.3.0.3.6.4", "OFFIS_DCMTK_364", "STORESCP"),
    ("1.2.826.0.1.3680043.8.641.1", "ORTHANC_1_12_3", "ORTHANC"),
    ("1.2.826.0.1.3680043.8.641.1", "ORTHANC_1_10_1", "ORTHANC"),
    ("1.2.826.0.1.3680043.9.3811.3.0.4", "PYNETDICOM_304", "ANY-SCP"),
    ("1.2.840.113619.6.323", "LOGIQS8_1", "GEPACS"),
    ("1.2.840.113845.1.1", "Syn4,4,0,36", "SYNAPSE"),
    ("1.3.46.670589.11.0.0.51.4.56.1", "PhilipsMR56", "PHILIPS"),
    ("1.2.40.0.13.1.1", "dcm4che-2.0", "DCM4CHEE"),
]

NOISE_TITLES = [
    "Welcome to nginx!", "Apache2 Ubuntu Default Page: It works", "IIS Windows Server",
    "404 Not Found", "Index of /", "Login", "Router Login", "Web Server's Default Page",
    "Document", "Test Page for the HTTP Server", "Dashboard", "Site under construction",
]

LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
         "ut labore et dolore magna aliqua SYNTHETIC ").split()


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.t = 1735689600.0  # 2025-01-01T00:00:00Z
        self.country_weights = [c[2] for c in COUNTRIES]

    def html(self, title, size):
        r = self.r
        words = []
        n = 0
        while n < size:
            w = r.choice(LOREM)
            words.append(w)
            n += len(w) + 1
        body = " ".join(words)
        return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                "<link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><div id=\"main\">"
                "<p>%s</p></div><!-- SYNTHETIC CORPUS --></body></html>" % (title, body))

    def address(self):
        r = self.r
        if r.random() < 0.06:
            return None, "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536), r.randrange(1, 65536))
        n = (198 << 24) | (18 << 16) | r.randrange(1 << 17)
        return n, "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)

    def base(self, port, module, data, transport="tcp"):
        r = self.r
        self.t += r.random() * 0.02
        code, cname, _, cities = r.choices(COUNTRIES, weights=self.country_weights)[0]
        org, isp, kind = r.choice(ORGS)
        n, ip_str = self.address()
        slug = org.lower().replace(" ", "-")[:24]
        host = "%s%d.%s.example" % (r.choice(["pacs", "www", "mail", "vpn", "emr", "srv"]), r.randrange(100), slug)
        ts = self.t
        secs = int(ts)
        rec = {
            "_shodan": {
                "crawler": "%040x" % r.getrandbits(160),
                "id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
                "module": module,
                "options": {},
                "ptr": r.random() < 0.5,
                "region": r.choice(["na", "eu", "as"]),
            },
            "asn": "AS%d" % r.randrange(64496, 64512),
            "data": data,
            "domains": ["%s.example" % slug] if r.random() < 0.6 else [],
            "hash": r.randrange(-2**31, 2**31),
            "hostnames": [host] if r.random() < 0.5 else [],
            "isp": isp,
            "location": {
                "area_code": None,
                "city": r.choice(cities) if r.random() < 0.9 else None,
                "country_code": code,
                "country_name": cname,
                "latitude": round(r.uniform(-60, 70), 4),
                "longitude": round(r.uniform(-170, 170), 4),
                "region_code": None,
            },
            "opts": {},
            "org": org,
            "os": None,
            "port": port,
            "timestamp": "%s.%06d" % (fmt_time(secs), int((ts - secs) * 1e6)),
            "transport": transport,
        }
        if n is None:
            rec["ipv6"] = ip_str
        else:
            rec["ip"] = n
            rec["ip_str"] = ip_str
        if kind == "cloud":
            rec["cloud"] = {"provider": "ExampleCloud", "region": "eu-central-1", "service": None}
        return rec

    def http_part(self, title, html, server, status=200, favicon=None):
        r = self.r
        h = {
            "components": {},
            "headers_hash": r.randrange(-2**31, 2**31),
            "host": None,
            "html": html,
            "html_hash": r.randrange(-2**31, 2**31),
            "location": "/",
            "redirects": [],
            "robots": None,
            "robots_hash": None,
            "securitytxt": None,
            "securitytxt_hash": None,
            "server": server,
            "sitemap": None,
            "sitemap_hash": None,
            "status": status,
            "title": title,
        }
        if favicon is not None:
            h["favicon"] = {"data": "AAABAAEAEBAAAAEAIABTWU5USEVUSUMtRkFWSUNPTi0=\n", "hash": favicon,
                            "location": "/favicon.ico"}
        return h

    def http_data(self, status, server, extra=""):
        line = {200: "200 OK", 401: "401 Unauthorized", 302: "302 Found", 404: "404 Not Found"}[status]
        head = "HTTP/1.1 %s\r\n" % line
        if server:
            head += "Server: %s\r\n" % server
        head += "Date: Sat, 01 Mar 2025 12:00:00 GMT\r\nContent-Type: text/html; charset=UTF-8\r\n"
        head += extra
        head += "Connection: close\r\n\r\n"
        return head

    def ssl_part(self, cn, org):
        r = self.r
        return {
            "acceptable_cas": [],
            "alpn": ["http/1.1"],
            "cert": {
                "expired": r.random() < 0.3,
                "expires": "2026%02d01000000Z" % r.randrange(1, 13),
                "extensions": [],
                "fingerprint": {"sha1": "%040x" % r.getrandbits(160), "sha256": "%064x" % r.getrandbits(256)},
                "issued": "2024%02d01000000Z" % r.randrange(1, 13),
                "issuer": {"CN": cn, "O": org},
                "pubkey": {"bits": 2048, "type": "rsa"},
                "serial": float(r.getrandbits(120)),
                "sig_alg": "sha256WithRSAEncryption",
                "subject": {"CN": cn, "O": org},
                "version": 2,
            },
            "cipher": {"bits": 128, "name": "ECDHE-RSA-AES128-GCM-SHA256", "version": "TLSv1.2"},
            "versions": ["TLSv1.2", "-TLSv1.3", r.choice(["TLSv1", "-TLSv1"])],
        }

    # --- record kinds -------------------------------------------------------------------
    def dicom_text(self):
        uid, name, ae = self.r.choice(DICOM_IMPLS)
        data = ("DICOM Server Response\nAE Title: %s\nImplementation Class UID: %s\n"
                "Implementation Version Name: %s\n" % (ae, uid, name))
        rec = self.base(self.r.choice([104, 104, 104, 11112, 4242]), "dicom", data)
        rec["tags"] = ["medical"]
        if "ORTHANC" in name:
            rec["product"] = "Orthanc"
        return rec

    def dicom_raw(self):
        r = self.r
        if r.random() < 0.2:
            pdu = bytes([3, 0, 0, 0, 0, 4, 0, 1, r.choice([1, 2]), r.choice([3, 7])])
        else:
            uid, name, _ = r.choice(DICOM_IMPLS)
            pdu = associate_ac(uid, name)
        data = pdu.decode("latin-1")
        rec = self.base(r.choice([104, 11112]), "dicom", data)
        rec["opts"] = {"raw": pdu.hex()}
        rec["tags"] = ["medical"]
        return rec

    def orthanc_http(self):
        r = self.r
        if r.random() < 0.3:
            data = self.http_data(401, None, "WWW-Authenticate: Basic realm=\"Orthanc Secure Area\"\r\n")
            rec = self.base(8042, "http", data)
            rec["http"] = self.http_part(None, "", None, 401)
            return rec
        data = self.http_data(200, None)
        rec = self.base(8042, "http", data)
        rec["http"] = self.http_part("Orthanc Explorer", self.html("Orthanc Explorer", 1200), None, 200, -478834633)
        rec["product"] = "Orthanc"
        return rec

    def emr(self):
        r = self.r
        server = "Apache/2.4.%d (Ubuntu)" % r.randrange(29, 58)
        data = self.http_data(200, server, "X-Powered-By: PHP/7.4.3\r\nSet-Cookie: OpenEMR=SYNTHETIC; path=/\r\n")
        rec = self.base(443, "https", data)
        rec["http"] = self.http_part("OpenEMR Login", self.html("OpenEMR Login", r.randrange(2000, 9000)), server, 200, 1971268439)
        rec["ssl"] = self.ssl_part("emr.%d.example" % r.randrange(1000), r.choice(ORGS)[0])
        rec["product"] = "Apache httpd"
        rec["version"] = server.split("/")[1].split()[0]
        rec["cpe23"] = ["cpe:2.3:a:apache:http_server:%s" % rec["version"]]
        rec["vulns"] = {"CVE-2023-25690": {"cvss": 9.8, "verified": False, "summary": "SYNTHETIC"},
                        "CVE-2022-31813": {"cvss": 9.8, "verified": False, "summary": "SYNTHETIC"}}
        return rec

    def mirth(self):
        data = self.http_data(200, "Jetty(9.4.z-SNAPSHOT)")
        rec = self.base(8443, "https", data)
        rec["http"] = self.http_part("Mirth Connect Administrator", self.html("Mirth Connect Administrator", 1500),
                                     "Jetty(9.4.z-SNAPSHOT)", 200, 1502215759)
        rec["ssl"] = self.ssl_part("mirthconnect", "Mirth Corporation")
        return rec

    def pharmacy(self):
        title = self.r.choice(["PharmaSys - Pharmacy Management Login", "Rx Dispensary Manager",
                               "Pharmacy Inventory & Prescriptions"])
        data = self.http_data(200, "Microsoft-IIS/10.0", "X-Powered-By: ASP.NET\r\n")
        rec = self.base(80, "http", data)
        rec["http"] = self.http_part(title, self.html(title, self.r.randrange(1500, 6000)), "Microsoft-IIS/10.0")
        rec["product"] = "Microsoft IIS httpd"
        rec["version"] = "10.0"
        return rec

    def scheduling(self):
        title = self.r.choice(["Patient Portal - Book an Appointment", "Online Appointment Scheduling"])
        data = self.http_data(200, "nginx")
        rec = self.base(80, "http", data)
        rec["http"] = self.http_part(title, self.html(title, self.r.randrange(1500, 6000)), "nginx")
        rec["product"] = "nginx"
        return rec

    def fhir(self):
        body = json.dumps({"resourceType": "CapabilityStatement", "status": "active", "fhirVersion": "4.0.1",
                           "software": {"name": "HAPI FHIR Server", "version": "6.4.0"}, "kind": "instance",
                           "implementation": {"description": "SYNTHETIC FHIR endpoint"}})
        data = self.http_data(200, None, "X-Powered-By: HAPI FHIR 6.4.0 REST Server\r\n")
        rec = self.base(8080, "http", data)
        rec["http"] = self.http_part(None, body, None)
        return rec

    def hl7(self):
        ack = self.r.choice(["AA", "AR", "AE"])
        data = "\x0bMSH|^~\\&|HIS|SYNTH-GEN|||20250305101500||ACK|SYN0001|P|2.5\rMSA|%s|SYN0001\r\x1c\r" % ack
        return self.base(2575, "auto", data)

    def database(self):
        r = self.r
        kind = r.choice(["mongodb", "elastic", "mysql", "postgresql", "redis"])
        if kind == "mongodb":
            data = "MongoDB Server Information\n" + json.dumps({"authentication": False, "version": "4.4.18",
                                                                "databases": [{"name": "admin"}, {"name": "SYNTHETIC"}]}, indent=2)
            rec = self.base(27017, "mongodb", data)
            rec.update({"product": "MongoDB", "version": "4.4.18", "tags": ["database"]})
        elif kind == "elastic":
            data = self.http_data(200, None) + json.dumps({"name": "node-1", "cluster_name": "SYNTHETIC",
                                                           "version": {"number": "7.10.2"}})
            rec = self.base(9200, "elastic", data)
            rec.update({"product": "Elastic", "version": "7.10.2", "tags": ["database"]})
        elif kind == "mysql":
            rec = self.base(3306, "mysql", "J\x00\x00\x00\n5.7.42-log\x00SYNTHETIC")
            rec.update({"product": "MySQL", "version": "5.7.42-log"})
        elif kind == "postgresql":
            rec = self.base(5432, "postgresql", "\nPostgreSQL:\n  Error Message: no pg_hba.conf entry for host")
            rec.update({"product": "PostgreSQL"})
        else:
            rec = self.base(6379, "redis", "# Server\r\nredis_version:6.0.16\r\nos:Linux SYNTHETIC\r\n")
            rec.update({"product": "Redis key-value store", "version": "6.0.16"})
        return rec

    def noise(self):
        r = self.r
        x = r.random()
        if x < 0.55:
            server = r.choice(["nginx", "nginx/1.18.0", "Apache", "Apache/2.4.41 (Ubuntu)", "Microsoft-IIS/8.5",
                               "lighttpd/1.4.59", None])
            title = r.choice(NOISE_TITLES)
            port = r.choice([80, 80, 80, 8080, 443, 8443, 8000, 8888])
            module = "https" if port in (443, 8443) else "http"
            rec = self.base(port, module, self.http_data(200, server))
            rec["http"] = self.http_part(title, self.html(title, r.randrange(500, 12000)), server)
            if module == "https":
                rec["ssl"] = self.ssl_part("www.%d.example" % r.randrange(10000), r.choice(ORGS)[0])
            if server:
                rec["product"] = server.split("/")[0]
            return rec
        if x < 0.75:
            rec = self.base(22, "ssh", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\nKey type: ssh-ed25519\nKey: SYNTHETIC%d\n"
                            % r.randrange(10**6))
            rec.update({"product": "OpenSSH", "version": "8.9p1 Ubuntu-3ubuntu0.6",
                        "cpe23": ["cpe:2.3:a:openbsd:openssh:8.9p1"]})
            return rec
        if x < 0.85:
            return self.base(3389, "rdp", "\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x1f\x08\x00\x02\x00\x00\x00")
        if x < 0.93:
            return self.base(21, "ftp", "220 (vsFTPd 3.0.3)\r\n530 Login incorrect.\r\n")
        if x < 0.97:
            return self.base(53, "dns-udp", "\nRecursion: enabled", "udp")
        return self.base(23, "telnet", "")

    def record(self):
        x = self.r.random()
        for limit, make in KINDS:
            if x < limit:
                return make(self)
        return self.noise()


def fmt_time(secs):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))


def associate_ac(uid, name):
    """An A-ASSOCIATE-AC answering FINDSCU → ANY-SCP with one accepted context."""
    def item(t, payload):
        return bytes([t, 0]) + len(payload).to_bytes(2, "big") + payload
    app = item(0x10, b"1.2.840.10008.3.1.1.1")
    ts = item(0x40, b"1.2.840.10008.1.2")
    pc = item(0x21, bytes([1, 0, 0, 0]) + ts)
    user = item(0x50, item(0x51, (16384).to_bytes(4, "big")) + item(0x52, uid.encode()) + item(0x55, name.encode()))
    body = (1).to_bytes(2, "big") + b"\x00\x00" + b"ANY-SCP".ljust(16) + b"FINDSCU".ljust(16) + bytes(32) + app + pc + user
    return bytes([2, 0]) + len(body).to_bytes(4, "big") + body


# Cumulative shares of each kind; the rest is noise.
KINDS = [
    (0.08, Gen.dicom_text),
    (0.11, Gen.dicom_raw),
    (0.14, Gen.orthanc_http),
    (0.17, Gen.emr),
    (0.19, Gen.mirth),
    (0.21, Gen.pharmacy),
    (0.23, Gen.scheduling),
    (0.24, Gen.fhir),
    (0.25, Gen.hl7),
    (0.33, Gen.database),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=256, help="stop after this many MiB of text")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="multi-member gzip, one member per 64 MiB")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()
    gen = Gen(args.seed)
    limit = int(args.size_mb * 1024 * 1024)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    written = 0
    member = 0
    buf = []
    buf_len = 0

    def flush():
        nonlocal buf, buf_len
        data = "".join(buf).encode()
        out.write(gzip.compress(data, compresslevel=6) if args.gzip else data)
        buf, buf_len = [], 0

    lines = 0
    while written < limit:
        line = json.dumps(gen.record(), separators=(", ", ": ")) + "\n"
        buf.append(line)
        buf_len += len(line)
        written += len(line)
        lines += 1
        member += len(line)
        if (args.gzip and member >= 64 * 1024 * 1024) or (not args.gzip and buf_len >= 8 * 1024 * 1024):
            flush()
            member = 0
    flush()
    out.flush()
    print("wrote %d lines, %d bytes of text" % (lines, written), file=sys.stderr)


if __name__ == "__main__":
    main()
