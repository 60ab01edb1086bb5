#!/usr/bin/env python3
"""Ground truth for the loopback benchmark: TCP listeners on random 127.A.x.y addresses.

Binds about COUNT listeners, each on a distinct random address inside 127.A.0.0/16 and on one
random port of PORTS, drawn from a fixed seed so that every run of the bench builds the same
target. When all are listening it writes their `ip:port` list (sorted) to OUT, atomically, so the
caller can poll for the file; then it accepts connections and closes them at once (one epoll
selector, backlog 1024), so that scanners' connects succeed and nothing piles up, until killed.

It refuses to start when the target could not be trusted: an address outside 127.0.0.0/8, or a
wildcard listener (0.0.0.0 or ::) already on one of the ports, which would answer on every
address of the /16. A taken (address, port) is skipped and another address drawn instead.
The /16's first and last addresses are never used, so that a scanner that skips a CIDR's network
and broadcast address is not charged for it.
"""

import argparse
import ctypes
import errno
import os
import random
import selectors
import signal
import socket
import sys

BACKLOG = 1024
PR_SET_PDEATHSIG = 1


def wildcard_listeners(ports):
    """(proto file, port) for LISTEN sockets on 0.0.0.0 or :: on one of PORTS."""
    found = []
    for name, wild in (("/proc/net/tcp", "00000000"), ("/proc/net/tcp6", "0" * 32)):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    addr, port = fields[1].split(":")
                    if fields[3] == "0A" and addr == wild and int(port, 16) in ports:
                        found.append((name, int(port, 16)))
        except FileNotFoundError:
            continue
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", required=True, help="the /16 as 127.A")
    ap.add_argument("--ports", default="104,4242,11112")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--out", required=True, help="ground-truth file, one ip:port per line")
    args = ap.parse_args()
    parent = os.getppid()

    octets = args.net.split(".")
    if len(octets) != 2 or octets[0] != "127" or not octets[1].isdigit() or int(octets[1]) > 255:
        sys.exit(f"listeners: --net must be 127.A with A in 0..255, got {args.net!r}")
    a = int(octets[1])
    ports = [int(p) for p in args.ports.split(",")]
    if not 1 <= args.count <= 60000:
        sys.exit("listeners: --count must be in 1..60000")

    wild = wildcard_listeners(set(ports))
    if wild:
        desc = ", ".join(f"port {p} ({n})" for n, p in wild)
        sys.exit(f"listeners: a wildcard listener already answers on every address: {desc}; "
                 "stop it or choose other ports")

    rng = random.Random(args.seed)
    sel = selectors.DefaultSelector()
    truth = []
    used = set()
    skipped = 0
    while len(truth) < args.count:
        host = rng.randrange(1, 65535)  # never 127.A.0.0 nor 127.A.255.255
        port = rng.choice(ports)
        if host in used:
            continue
        used.add(host)
        ip = f"127.{a}.{host >> 8}.{host & 255}"
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((ip, port))
            s.listen(BACKLOG)
        except OSError as e:
            s.close()
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                skipped += 1
                if skipped > args.count:
                    sys.exit(f"listeners: too many taken addresses ({skipped}), last {ip}:{port}")
                continue
            raise
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        truth.append((host, port, ip))

    truth.sort()
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        for _, port, ip in truth:
            f.write(f"{ip}:{port}\n")
    os.replace(tmp, args.out)
    print(f"listeners: {len(truth)} listening in 127.{a}.0.0/16 (seed {args.seed}, "
          f"{skipped} taken and skipped), truth in {args.out}", file=sys.stderr)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Die with the bench script even if it is killed without running its trap (Linux only).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            sys.exit(0)
    except (OSError, AttributeError):
        pass
    accepted = 0
    try:
        while True:
            for key, _ in sel.select():
                while True:
                    try:
                        conn, _ = key.fileobj.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionAbortedError:
                        continue
                    conn.close()
                    accepted += 1
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        print(f"listeners: accepted and closed {accepted} connections", file=sys.stderr)


if __name__ == "__main__":
    main()
