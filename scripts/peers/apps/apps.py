#!/usr/bin/env python3
"""HL7 and database test peers for medsurface's application probes, on 127.0.0.1 only.

    apps.py start --state DIR     start every peer, write DIR/apps.json (ports, pids, versions)
    apps.py stop  --state DIR     stop the peers recorded in DIR/apps.json (by pid), remove DIR
    apps.py serve-hl7 PORT LOG        (internal) python-hl7 MLLP server, answers AA to everything
    apps.py serve-hl7apy PORT LOG     (internal) hl7apy MLLPServer, ADT^A01 only, AR to the rest
    apps.py serve-mongo PORT MODE LOG (internal) synthetic MongoDB, MODE open | auth | legacy (3.4)
    apps.py serve-es PORT MODE LOG    (internal) synthetic Elasticsearch, MODE open | auth

The python peers append every request they are asked to LOG (one line each: the HL7 message,
the MongoDB command, the HTTP request line); PostgreSQL logs connections, disconnections and
statements to DIR/NAME.log. crates/scan/tests/app_peers.rs reads both to prove what the probes
sent: one HL7 message each, only the documented commands, no SQL statement.

Real peers: python-hl7 and hl7apy (PyPI, the libraries' own MLLP servers with handlers written
as their documentation shows), Debian's PostgreSQL (trust with TLS and a medsurface role, trust without either, and
scram-sha-256),
redis-server (open, and with requirepass) and mariadb-server, each a throwaway instance with
its data in DIR, on a free port at or above 15400 (non-default, so nothing real is disturbed).

Synthetic peers: MongoDB and Elasticsearch are not in Debian. serve-mongo implements what the
probe sends from the MongoDB manual's "MongoDB Wire Protocol" (standard header, OP_QUERY,
OP_REPLY, OP_MSG with a kind-0 section) and bsonspec.org, answering isMaster, buildInfo and
listDatabases as MongoDB 7.0 does (field names and error code 13 / codeName Unauthorized as
the manual documents them). serve-es answers GET / and GET /_cat/indices as Elasticsearch 8.13
does (body fields, X-elastic-product header, and the 401 with WWW-Authenticate Basic
realm="security" and a security_exception body), over HTTP/1.1 with keep-alive.

Readiness is polled with bounded loops; nothing sleeps to synchronise. The postgres and
mariadbd processes run as their Debian system users (postgres refuses root).
"""

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from peerlib import free_port, spawn, wait_tcp  # noqa: E402

PORT_BASE = 15400
HERE = os.path.abspath(__file__)


# ---------------------------------------------------------------------------------------------
# helpers


def as_user(user):
    """argv prefix that runs a command as `user` when we are root (setpriv execs, no fork)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def chown_to(path, user):
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


def version_of(argv, marker):
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return out


# ---------------------------------------------------------------------------------------------
# PostgreSQL

PG_BIN = None


def pg_bin(name):
    global PG_BIN
    if PG_BIN is None:
        base = "/usr/lib/postgresql"
        versions = sorted((d for d in os.listdir(base) if d.isdigit()), key=int)
        PG_BIN = os.path.join(base, versions[-1], "bin")
    return os.path.join(PG_BIN, name)


def start_postgres(state, name, port, mode, log):
    """mode: "trust-tls" (TLS on; role and database medsurface exist), "trust" (no TLS, no such
    role: the usual open server), "scram" (scram-sha-256 passwords, no TLS)."""
    data = os.path.join(state, name)
    os.makedirs(data)
    chown_to(data, "postgres")
    os.chmod(data, 0o700)
    initdb = as_user("postgres") + [pg_bin("initdb"), "-D", data, "-U", "postgres", "--no-sync",
                                    "-E", "UTF8", "--locale=C"]
    if mode.startswith("trust"):
        initdb += ["-A", "trust"]
    else:
        pw = os.path.join(state, f"{name}.pw")
        with open(pw, "w") as f:
            f.write(secrets.token_hex(12) + "\n")
        chown_to(pw, "postgres")
        initdb += ["-A", "scram-sha-256", f"--pwfile={pw}"]
    subprocess.run(initdb, check=True, stdout=log, stderr=subprocess.STDOUT)
    opts = ["-c", "listen_addresses=127.0.0.1", "-p", str(port), "-k", data,
            "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=20",
            # Every connection, disconnection and statement is logged: the test reads the log
            # to prove the probe ran no statement and ended its session.
            "-c", "log_connections=on", "-c", "log_disconnections=on",
            "-c", "log_statement=all", "-c", "log_min_messages=info"]
    if mode == "trust-tls":
        # TLS on, with a throwaway self-signed certificate: the probe's SSLRequest path.
        crt, key = os.path.join(data, "server.crt"), os.path.join(data, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=medsurface-test/O=medsurface lab", "-keyout", key,
                        "-out", crt], check=True, stdout=log, stderr=subprocess.STDOUT)
        for p in (crt, key):
            chown_to(p, "postgres")
            os.chmod(p, 0o600)
        opts += ["-c", "ssl=on", "-c", f"ssl_cert_file={crt}", "-c", f"ssl_key_file={key}"]
    proc = spawn(as_user("postgres") + [pg_bin("postgres"), "-D", data] + opts, log)
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited early (code {proc.returncode})")
        ok = subprocess.run([pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)])
        if ok.returncode == 0:
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"{name} not ready on {port}")
    if mode == "trust-tls":
        # The role and database the probe names exist here, so the session completes and the
        # server sends server_version in a ParameterStatus.
        psql = [pg_bin("psql"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
        subprocess.run(psql + ["-c", "CREATE ROLE medsurface LOGIN"], check=True,
                       stdout=log, stderr=subprocess.STDOUT)
        subprocess.run(psql + ["-c", "CREATE DATABASE medsurface OWNER medsurface"], check=True,
                       stdout=log, stderr=subprocess.STDOUT)
    return proc


def postgres_version():
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18 (Debian 15.18-0+deb12u1)"
    out = subprocess.run([pg_bin("postgres"), "--version"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split(") ", 1)[1]


# ---------------------------------------------------------------------------------------------
# Redis and MariaDB

def start_redis(state, name, port, password, log):
    data = os.path.join(state, name)
    os.makedirs(data)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", data, "--daemonize", "no", "--logfile", ""]
    if password:
        argv += ["--requirepass", password]
    proc = spawn(argv, log)
    wait_tcp(port, proc, name)
    return proc


def redis_version():
    # "Redis server v=7.0.15 sha=..." -> "7.0.15"
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                         check=True).stdout
    return out.split("v=", 1)[1].split()[0]


def start_mariadb(state, name, port, log):
    data = os.path.join(state, name)
    os.makedirs(data)
    chown_to(data, "mysql")
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--skip-test-db",
                    "--auth-root-authentication-method=normal"] + user,
                   check=True, stdout=log, stderr=subprocess.STDOUT)
    proc = spawn(["mariadbd", "--no-defaults", f"--datadir={data}", f"--port={port}",
                  "--bind-address=127.0.0.1", f"--socket={data}/mysqld.sock",
                  f"--pid-file={data}/mysqld.pid", "--skip-log-bin", "--skip-name-resolve",
                  "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M"] + user, log)
    wait_tcp(port, proc, name, attempts=1200)
    return proc


def mariadb_version():
    # "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu ..." -> "10.11.19-MariaDB-0+deb12u1"
    out = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True,
                         check=True).stdout
    return out.split("Ver ", 1)[1].split()[0]


# ---------------------------------------------------------------------------------------------
# HL7 peers (the libraries' own MLLP servers)

def record(log_path, line):
    """Appends one line (what a peer was asked) to its request log; tests read it."""
    with open(log_path, "a") as f:
        f.write(line.replace("\r", "\\r").replace("\n", "\\n") + "\n")


def serve_hl7(port, log_path):
    import hl7.mllp

    async def process(reader, writer):
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                record(log_path, str(message))
                ack = message.create_ack(ack_code="AA", application="PYTHON-HL7",
                                         facility="MEDSURFACE-LAB")
                writer.writemessage(ack)
                await writer.drain()
        except (asyncio.IncompleteReadError, hl7.mllp.InvalidBlockError, ValueError):
            pass
        finally:
            writer.close()

    async def main():
        server = await hl7.mllp.start_hl7_server(process, host="127.0.0.1", port=port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def serve_hl7apy(port, log_path):
    from hl7apy.core import Message
    from hl7apy.mllp import (AbstractErrorHandler, AbstractHandler, MLLPServer,
                             UnsupportedMessageType)

    def control_id(er7):
        msh = er7.replace("\n", "\r").split("\r", 1)[0]
        fields = msh.split(msh[3]) if len(msh) > 3 else []
        return fields[9] if len(fields) > 9 else ""

    def ack(incoming, code, text):
        res = Message("ACK", version="2.5")
        res.msh.msh_3 = "HL7APY"
        res.msh.msh_4 = "MEDSURFACE-LAB"
        res.msh.msh_9 = "ACK^N01^ACK"
        res.msh.msh_11 = "T"
        res.msa.msa_1 = code
        res.msa.msa_2 = control_id(incoming)
        if text:
            res.msa.msa_3 = text
        return res.to_mllp()

    class AdtHandler(AbstractHandler):
        def reply(self):
            record(log_path, self.incoming_message)
            return ack(self.incoming_message, "AA", "")

    class ErrorHandler(AbstractErrorHandler):
        def reply(self):
            record(log_path, self.incoming_message)
            if isinstance(self.exc, UnsupportedMessageType):
                return ack(self.incoming_message, "AR", "Unsupported message type")
            return ack(self.incoming_message, "AE", "Error")

    server = MLLPServer("127.0.0.1", port, {"ADT^A01": (AdtHandler,), "ERR": (ErrorHandler,)},
                        timeout=5)
    server.serve_forever()


# ---------------------------------------------------------------------------------------------
# Synthetic MongoDB

def bson_encode(doc):
    out = b""
    for k, v in doc.items():
        key = k.encode() + b"\0"
        if isinstance(v, bool):
            out += b"\x08" + key + (b"\x01" if v else b"\x00")
        elif isinstance(v, int):
            out += b"\x10" + key + struct.pack("<i", v)
        elif isinstance(v, float):
            out += b"\x01" + key + struct.pack("<d", v)
        elif isinstance(v, str):
            b = v.encode() + b"\0"
            out += b"\x02" + key + struct.pack("<i", len(b)) + b
        elif isinstance(v, dict):
            out += b"\x03" + key + bson_encode(v)
        elif isinstance(v, list):
            out += b"\x04" + key + bson_encode({str(i): x for i, x in enumerate(v)})
        else:
            raise TypeError(type(v))
    return struct.pack("<i", len(out) + 5) + out + b"\0"


def bson_decode(b):
    (n,) = struct.unpack_from("<i", b, 0)
    at, end, doc = 4, n - 1, {}
    while at < end:
        kind = b[at]
        at += 1
        z = b.index(b"\0", at)
        key = b[at:z].decode()
        at = z + 1
        if kind == 0x10:
            doc[key] = struct.unpack_from("<i", b, at)[0]; at += 4
        elif kind == 0x12:
            doc[key] = struct.unpack_from("<q", b, at)[0]; at += 8
        elif kind == 0x01:
            doc[key] = struct.unpack_from("<d", b, at)[0]; at += 8
        elif kind == 0x08:
            doc[key] = b[at] != 0; at += 1
        elif kind == 0x02:
            (ln,) = struct.unpack_from("<i", b, at)
            doc[key] = b[at + 4:at + 3 + ln].decode(); at += 4 + ln
        elif kind in (0x03, 0x04):
            (ln,) = struct.unpack_from("<i", b, at)
            doc[key] = bson_decode(b[at:at + ln]); at += ln
        else:
            raise ValueError(f"bson type {kind}")
    return doc


MONGO_VERSION = "7.0.14"
LEGACY_MONGO_VERSION = "3.4.24"
MONGO_DATABASES = ["admin", "config", "local", "radiology_demo"]


def mongo_answer(cmd, mode):
    name = next(iter(cmd), "").lower()
    if mode == "legacy" and name in ("ismaster", "hello"):
        # MongoDB 3.4: no OP_MSG yet (wire version 5).
        return {"ismaster": True, "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
                "maxWriteBatchSize": 1000, "localTime": 0.0, "maxWireVersion": 5,
                "minWireVersion": 0, "readOnly": False, "ok": 1.0}
    if mode == "legacy" and name == "buildinfo":
        return {"version": LEGACY_MONGO_VERSION, "gitVersion": "0" * 40,
                "versionArray": [3, 4, 24, 0], "bits": 64, "ok": 1.0}
    if name in ("ismaster", "hello"):
        return {"ismaster": True, "topologyVersion": {"counter": 0}, "maxBsonObjectSize": 16777216,
                "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
                "localTime": 0.0, "logicalSessionTimeoutMinutes": 30, "connectionId": 1,
                "minWireVersion": 0, "maxWireVersion": 21, "readOnly": False, "ok": 1.0}
    if name == "buildinfo":
        return {"version": MONGO_VERSION, "gitVersion": "0" * 40, "versionArray": [7, 0, 14, 0],
                "bits": 64, "maxBsonObjectSize": 16777216, "ok": 1.0}
    if name == "listdatabases":
        if mode == "auth":
            return {"ok": 0.0, "errmsg": "command listDatabases requires authentication",
                    "code": 13, "codeName": "Unauthorized"}
        if cmd.get("nameOnly") is not True:
            raise SystemExit("synthetic mongo: listDatabases without nameOnly (probe must ask names only)")
        return {"databases": [{"name": n} for n in MONGO_DATABASES], "ok": 1.0}
    return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59,
            "codeName": "CommandNotFound"}


def serve_mongo(port, mode, log_path):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readexactly(16)
                length, request_id, _, op = struct.unpack("<iiii", head)
                if length < 16 or length > 48_000_000:
                    break
                body = await reader.readexactly(length - 16)
                if op == 2004:  # OP_QUERY
                    z = body.index(b"\0", 4)
                    cmd = bson_decode(body[z + 9:])
                    record(log_path, "OP_QUERY " + json.dumps(cmd, sort_keys=True))
                    name = next(iter(cmd), "").lower()
                    if mode != "legacy" and name not in ("ismaster", "hello"):
                        # MongoDB >= 5.1 accepts OP_QUERY only for the handshake.
                        break
                    doc = bson_encode(mongo_answer(cmd, mode))
                    reply = struct.pack("<iqii", 0, 0, 0, 1) + doc
                    writer.write(struct.pack("<iiii", 16 + len(reply), 1, request_id, 1) + reply)
                elif op == 2013 and mode != "legacy":  # OP_MSG (from wire version 6)
                    if body[4] != 0:
                        break
                    cmd = bson_decode(body[5:])
                    record(log_path, "OP_MSG " + json.dumps(cmd, sort_keys=True))
                    doc = bson_encode(mongo_answer(cmd, mode))
                    reply = struct.pack("<I", 0) + b"\0" + doc
                    writer.write(struct.pack("<iiii", 16 + len(reply), 1, request_id, 2013) + reply)
                else:
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Synthetic Elasticsearch

ES_VERSION = "8.13.4"
ES_INDICES = ["radiology-reports-demo", ".kibana_1"]


def serve_es(port, mode, log_path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body, ctype="application/json", extra=()):
            data = body.encode()
            self.send_response(status)
            self.send_header("X-elastic-product", "Elasticsearch")
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            record(log_path, f"GET {self.path} UA={self.headers.get('User-Agent', '')}")
            if mode == "auth":
                body = json.dumps({"error": {"root_cause": [{"type": "security_exception",
                    "reason": f"missing authentication credentials for REST request [{self.path}]",
                    "header": {"WWW-Authenticate": ["Basic realm=\"security\" charset=\"UTF-8\"", "ApiKey"]}}],
                    "type": "security_exception",
                    "reason": f"missing authentication credentials for REST request [{self.path}]"},
                    "status": 401})
                self.send(401, body, extra=[("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\""),
                                            ("WWW-Authenticate", "ApiKey")])
                return
            if self.path == "/":
                self.send(200, json.dumps({
                    "name": "es-lab-1", "cluster_name": "medsurface-lab",
                    "cluster_uuid": "Zq3kS1m3QnO0cX1qC3x6yw",
                    "version": {"number": ES_VERSION, "build_flavor": "default",
                                "build_type": "docker", "lucene_version": "9.10.0",
                                "minimum_wire_compatibility_version": "7.17.0",
                                "minimum_index_compatibility_version": "7.0.0"},
                    "tagline": "You Know, for Search"}, indent=2))
            elif self.path == "/_cat/indices?h=index":
                self.send(200, "".join(i + "\n" for i in ES_INDICES), ctype="text/plain; charset=UTF-8")
            else:
                self.send(404, json.dumps({"error": "no handler found", "status": 404}))

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# ---------------------------------------------------------------------------------------------
# start / stop

def start(state):
    os.makedirs(state, exist_ok=True)
    os.chmod(state, 0o755)
    log = open(os.path.join(state, "peers.log"), "ab")
    taken, peers = set(), {}
    record = {"peers": peers, "state": state}

    def save():
        with open(os.path.join(state, "apps.json"), "w") as f:
            json.dump(record, f, indent=1)

    def add(name, proc, port, **extra):
        peers[name] = {"port": port, "pid": proc.pid, **extra}
        save()

    py = sys.executable
    for name, kind in [("python-hl7", "serve-hl7"), ("hl7apy", "serve-hl7apy")]:
        port = free_port(PORT_BASE, taken)
        requests = os.path.join(state, f"{name}.requests")
        proc = spawn([py, HERE, kind, str(port), requests], log)
        add(name, proc, port, requests=requests)
        wait_tcp(port, proc, name)
    for name, mode in [("mongo-open", "open"), ("mongo-auth", "auth"), ("mongo-legacy", "legacy")]:
        port = free_port(PORT_BASE, taken)
        requests = os.path.join(state, f"{name}.requests")
        proc = spawn([py, HERE, "serve-mongo", str(port), mode, requests], log)
        add(name, proc, port, requests=requests)
        wait_tcp(port, proc, name)
    for name, mode in [("es-open", "open"), ("es-auth", "auth")]:
        port = free_port(PORT_BASE, taken)
        requests = os.path.join(state, f"{name}.requests")
        proc = spawn([py, HERE, "serve-es", str(port), mode, requests], log)
        add(name, proc, port, requests=requests)
        wait_tcp(port, proc, name)
    for name, password in [("redis-open", None), ("redis-auth", secrets.token_hex(16))]:
        port = free_port(PORT_BASE, taken)
        add(name, start_redis(state, name, port, password, log), port)
    for name, mode in [("pg-trust-tls", "trust-tls"), ("pg-trust", "trust"),
                       ("pg-password", "scram")]:
        port = free_port(PORT_BASE, taken)
        pg_log_path = os.path.join(state, f"{name}.log")
        with open(pg_log_path, "ab") as pg_log:
            proc = start_postgres(state, name, port, mode, pg_log)
        add(name, proc, port, signal="INT", log=pg_log_path)
    port = free_port(PORT_BASE, taken)
    add("mariadb", start_mariadb(state, "mariadb", port, log), port)
    record["versions"] = {
        "postgresql": postgres_version(),
        "redis": redis_version(),
        "mariadb": mariadb_version(),
        "mongodb": MONGO_VERSION,
        "mongodb-legacy": LEGACY_MONGO_VERSION,
        "elasticsearch": ES_VERSION,
    }
    record["mongodb_databases"] = MONGO_DATABASES
    record["elasticsearch_indices"] = sorted(ES_INDICES)
    save()


def stop(state):
    path = os.path.join(state, "apps.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        peers = json.load(f).get("peers", {})
    pids = []
    for p in peers.values():
        sig = signal.SIGINT if p.get("signal") == "INT" else signal.SIGTERM
        try:
            os.kill(p["pid"], sig)
            pids.append(p["pid"])
        except ProcessLookupError:
            pass
    for pid in pids:
        for _ in range(200):  # bounded: 10 s per process
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid if not os.path.exists(f"/proc/{pid}") else 0
            if done:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    shutil.rmtree(state, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for c in ("start", "stop"):
        sub.add_parser(c).add_argument("--state", required=True)
    for c in ("serve-hl7", "serve-hl7apy"):
        p = sub.add_parser(c)
        p.add_argument("port", type=int)
        p.add_argument("log")
    for c in ("serve-mongo", "serve-es"):
        p = sub.add_parser(c)
        p.add_argument("port", type=int)
        p.add_argument("mode", choices=["open", "auth", "legacy"])
        p.add_argument("log")
    a = ap.parse_args()
    if a.cmd == "start":
        try:
            start(a.state)
        except BaseException:
            stop(a.state)
            raise
    elif a.cmd == "stop":
        stop(a.state)
    elif a.cmd == "serve-hl7":
        serve_hl7(a.port, a.log)
    elif a.cmd == "serve-hl7apy":
        serve_hl7apy(a.port, a.log)
    elif a.cmd == "serve-mongo":
        serve_mongo(a.port, a.mode, a.log)
    elif a.cmd == "serve-es":
        serve_es(a.port, a.mode, a.log)


if __name__ == "__main__":
    main()
