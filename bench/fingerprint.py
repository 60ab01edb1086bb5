#!/usr/bin/env python3
"""Helper of bench/fingerprint.sh: a loopback TCP relay, and the report of a run.

    fingerprint.py forward --map FILE     relay each LISTEN_ADDR:PORT to 127.0.0.1:UPSTREAM
    fingerprint.py report --dir RUN_DIR --out FILE.md

`forward` exists because the real test peers (scripts/peers) listen on 127.0.0.1 at free high
ports, while a fingerprint comparison is only fair on the services' usual ports: there nmap's
port hints and medsurface's probe registry both apply as they would in the field. The map has
one relay a line, `NAME LISTEN_ADDR LISTEN_PORT UPSTREAM_PORT`; every listen address must be in
127.0.0.0/8 and the upstream is always 127.0.0.1. It prints `serving N` once every relay is
bound, and relays bytes both ways (half-closes passed on) until both sides are done.

`report` reads the run directory that fingerprint.sh leaves: `services.tsv` (the truth: what
each address:port really is), `manifest.tsv` (round, tool, exit status, stdout file, time
file), `meta.tsv`, `commands.tsv`, each run's output (medsurface `--json` lines, nmap `-oX`)
and `/usr/bin/time -v` output. It writes one Markdown table per service (what each tool said)
and one per tool (services named, wall time median over rounds, peak RSS).

What counts as "named": nmap names the product when its service element has a `product`, the
protocol when it was found by a probe (`method="probed"`) without a product, and only guesses
when the name comes from its port table (`method="table"`, shown with a `?`). medsurface names
the product when a signature with a known vendor matched, the protocol when only a generic
signature (vendor `unknown`) matched or no signature but a protocol was established.
"""

import argparse
import asyncio
import ipaddress
import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# forward


def read_map(path):
    relays = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, addr, port, upstream = line.split()
        if not ipaddress.ip_address(addr).is_loopback:
            raise SystemExit(f"{path}:{n}: {addr} is not a loopback address")
        relays.append((name, addr, int(port), int(upstream)))
    return relays


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def relay(client_r, client_w, upstream_port):
    try:
        up_r, up_w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", upstream_port), timeout=5
        )
    except (OSError, asyncio.TimeoutError):
        client_w.close()
        return
    try:
        # Every peer ends its connections; the bound only guards against a stuck pair.
        await asyncio.wait_for(
            asyncio.gather(pump(client_r, up_w), pump(up_r, client_w)), timeout=600
        )
    except asyncio.TimeoutError:
        pass
    finally:
        for w in (client_w, up_w):
            w.close()


async def forward_main(path):
    relays = read_map(path)
    servers = []
    for _name, addr, port, upstream in relays:
        servers.append(
            await asyncio.start_server(
                lambda r, w, u=upstream: relay(r, w, u), addr, port, reuse_address=True
            )
        )
    print(f"serving {len(servers)}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


# ---------------------------------------------------------------------------------------------
# report


def time_file(path):
    wall, rss = None, None
    for line in Path(path).read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            wall = 0.0
            for p in line.rsplit(": ", 1)[1].split(":"):
                wall = wall * 60 + float(p)
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(": ", 1)[1])
    return wall, rss


def cell(text, cap=100):
    """Table-safe text: peer strings may hold pipes or newlines, and may be long."""
    text = str(text).replace("|", "\\|").replace("\n", " ").strip() or "—"
    return text if len(text) <= cap else text[: cap - 1] + "…"


def parse_medsurface(text):
    """(ip, port) -> (level, description)."""
    out = {}
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        key = (rec.get("ip"), rec.get("port"))
        protocol = rec.get("protocol")
        sig = rec.get("signature")
        if sig:
            what = " ".join(
                x for x in (rec.get("vendor"), rec.get("product"), rec.get("version")) if x
            )
            desc = f"{protocol or '-'} · {rec.get('category')} · {what} (`{sig}`)"
            level = "protocol" if rec.get("vendor") == "unknown" else "product"
        elif protocol:
            desc, level = f"{protocol} · no signature", "protocol"
        else:
            desc, level = "open, not identified", "nothing"
        out[key] = (level, desc)
    return out


def parse_nmap(text):
    out = {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return out
    for host in root.iter("host"):
        ip = next(
            (a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None
        )
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            svc = port.find("service")
            if svc is None:
                out[(ip, int(port.get("portid")))] = ("nothing", "open, no service")
                continue
            name = svc.get("name", "unknown")
            tunnel = svc.get("tunnel")
            if tunnel:
                name = f"{tunnel}/{name}"
            parts = [svc.get(k) for k in ("product", "version", "extrainfo")]
            what = " ".join(p for p in parts if p)
            if svc.get("method") == "table":
                level, desc = "guess", f"{name}? (port table)"
            elif svc.get("product"):
                level, desc = "product", f"{name} · {what}"
            elif name in ("unknown", "tcpwrapped"):
                level, desc = "nothing", name
            else:
                level, desc = "protocol", f"{name}" + (f" · {what}" if what else "")
                if svc.get("servicefp"):
                    desc += " (unrecognised answer, fingerprint printed)"
            out[(ip, int(port.get("portid")))] = (level, desc)
    return out


def report_main(run_dir, out_path):
    run = Path(run_dir)
    services = []
    for line in (run / "services.tsv").read_text().splitlines():
        name, source, addr, port, truth, product = line.split("\t")
        services.append((name, source, addr, int(port), truth, product))
    meta = dict(
        line.split("\t", 1) for line in (run / "meta.tsv").read_text().splitlines() if line
    )
    commands = [
        line.split("\t", 1)
        for line in (run / "commands.tsv").read_text().splitlines()
        if line
    ]
    runs = {}  # tool -> list of dicts
    for line in (run / "manifest.tsv").read_text().splitlines():
        rnd, tool, status, out_file, t_file = line.split("\t")
        text = (run / out_file).read_text(errors="replace")
        found = parse_medsurface(text) if tool == "medsurface" else parse_nmap(text)
        wall, rss = time_file(run / t_file)
        runs.setdefault(tool, []).append(
            {"round": int(rnd), "status": int(status), "found": found, "wall": wall, "rss": rss}
        )
    tools = list(runs)
    truth_keys = {(addr, port) for _, _, addr, port, _, _ in services}

    def right_product(answer, product):
        """None when nothing on the wire can name the product; else whether the tool did (a
        port-table guess never counts)."""
        if product == "-":
            return None
        level, desc = answer
        return level in ("product", "protocol") and re.search(product, desc, re.I) is not None

    lines = [f"# Fingerprinting the lab: medsurface vs nmap -sV ({meta.get('date', '?')})", ""]
    for k in ("machine", "load_before", "load_after", "nmap_version", "medsurface_binary",
              "medsurface_commit", "runs", "services", "tool_order"):
        if k in meta:
            lines.append(f"- {k.replace('_', ' ')}: {meta[k]}")
    lines.append("")
    lines.append("Commands (one run each per round, rounds interleaved):")
    lines.append("")
    for tool, cmd in commands:
        lines.append(f"- {tool}: `{cmd}`")
    lines.append("")

    # Per service: round 1's answer of each tool; a round that said otherwise is flagged.
    header = "| service (truth) | address:port | product to name | " + " | ".join(
        f"{t}" for t in tools
    ) + " |"
    lines += [header, "|---|---|---|" + "---|" * len(tools)]
    for name, source, addr, port, truth, product in services:
        label = {"peer": "real peer", "synthetic": "synthetic peer", "lab": "lab"}[source]
        row = [cell(f"{name}: {truth} ({label})"),
               f"{addr}:{port}", "—" if product == "-" else f"/{product}/"]
        for t in tools:
            answers = [r["found"].get((addr, port), ("missed", "not reported open")) for r in runs[t]]
            first = answers[0]
            mark = {True: "✅ ", False: "❌ ", None: ""}[right_product(first, product)]
            text = mark + cell(first[1])
            others = {a[1] for a in answers[1:] if a != first}
            if others:
                text += " ⚠ other rounds: " + cell("; ".join(sorted(others)))
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    # Per tool.
    lines += [
        "| tool | right product named | … of real software | a product named | protocol only | port guess only | "
        "nothing / missed | extra open ports | wall, median (min–max) | peak RSS | exit codes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    nameable = sum(1 for s in services if s[5] != "-")
    real = sum(1 for s in services if s[5] != "-" and s[1] == "peer")
    for t in tools:
        r0 = runs[t][0]["found"]
        counts = {"product": 0, "protocol": 0, "guess": 0, "nothing": 0}
        right = right_real = 0
        for _, source, addr, port, _, product in services:
            answer = r0.get((addr, port), ("missed", ""))
            level = answer[0]
            counts["nothing" if level in ("nothing", "missed") else level] += 1
            ok = right_product(answer, product) is True
            right += ok
            right_real += ok and source == "peer"
        extra = max(len(set(r["found"]) - truth_keys) for r in runs[t])
        walls = [r["wall"] for r in runs[t] if r["wall"] is not None]
        rss = max((r["rss"] or 0) for r in runs[t])
        statuses = sorted({r["status"] for r in runs[t]})
        lines.append(
            f"| {t} | {right} of {nameable} | {right_real} of {real} | {counts['product']} | {counts['protocol']} | "
            f"{counts['guess']} | "
            f"{counts['nothing']} | {extra} | "
            f"{statistics.median(walls):.2f} s ({min(walls):.2f}–{max(walls):.2f}) | "
            f"{rss / 1024:.1f} MB | {', '.join(map(str, statuses))} |"
        )
    lines.append("")
    lines.append(f"Counts are over the {len(services)} services, from round 1; ⚠ marks a "
                 "service some other round described differently. \"Right product\": the "
                 "tool's answer (not a port-table guess) matches the product to name; "
                 f"{len(services) - nameable} services have none that the wire can tell. "
                 "\"Of real software\": without the lab's simulations and the synthetic peers "
                 "(which speak a product's protocol but are Python servers, so nmap's answer "
                 "there may be the truer one). "
                 "\"A product named\" counts any product, right or not (e.g. the web server "
                 "under an application).")
    lines.append("")
    lines.append("Per run:")
    lines.append("")
    for t in tools:
        for r in runs[t]:
            lines.append(
                f"- round {r['round']} {t}: exit {r['status']}, wall {r['wall']:.2f} s, "
                f"peak RSS {(r['rss'] or 0) / 1024:.1f} MB, open ports reported {len(r['found'])}"
            )
    Path(out_path).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("forward")
    f.add_argument("--map", required=True)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--out", required=True)
    a = p.parse_args()
    if a.cmd == "forward":
        try:
            asyncio.run(forward_main(a.map))
        except KeyboardInterrupt:
            pass
    else:
        report_main(a.dir, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
