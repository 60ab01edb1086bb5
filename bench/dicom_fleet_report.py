#!/usr/bin/env python3
"""Turn one DICOM fleet run directory into figures: verdict agreement, wall, peak RSS, ratio.

bench/dicom_fleet.sh leaves in its run directory `fleet.txt` (the servers as KIND@ADDR:PORT:
the ground truth), `manifest.tsv` (round, tool, exit status, stdout file, time file),
`commands.tsv`, `meta.tsv`, and each run's stdout and `/usr/bin/time -v` output.

Verdicts, per address:
- the truth: dicom-open is "accepted", dicom-strict is "rejected" (for the called AE ANY-SCP
  that both tools send);
- medsurface `--json`: the `dicom.association` detail of the record on that address;
- nmap `-oX` with dicom-ping: "Any AET is accepted (Insecure)" is "accepted", "Called AET check
  enabled" is "rejected" (the script says so on any A-ASSOCIATE-RJ).
Anything else (no record, no script output, another verdict) is counted as "missing" or by its
own name, and is a disagreement.

The speed ratio is the median over rounds of (nmap wall / medsurface wall) in the same round,
not a ratio of medians: rounds are interleaved so that load from other work on the machine
hits both tools alike, and a per-round ratio cancels most of it.
"""

import argparse
import json
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NMAP_WORDS = {
    "Any AET is accepted (Insecure)": "accepted",
    "Called AET check enabled": "rejected",
}


def truth(path):
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, addr = line.partition("@")
        ip = addr.rpartition(":")[0]
        out[ip] = {"dicom-open": "accepted", "dicom-strict": "rejected"}[kind]
    return out


def parse_medsurface(text):
    verdicts, extra = {}, {"query_without_auth": 0, "accepts_any_ae": 0, "bad_lines": 0}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            extra["bad_lines"] += 1
            continue
        details = rec.get("details") or {}
        verdicts[rec.get("ip")] = details.get("dicom.association", "not-probed")
        extra["query_without_auth"] += details.get("dicom.query_without_auth") is True
        extra["accepts_any_ae"] += details.get("dicom.accepts_any_ae") is True
    return verdicts, extra


def parse_nmap(text):
    verdicts = {}
    root = ET.fromstring(text)
    for host in root.iter("host"):
        addr = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"), None)
        verdict = "no-script-output"
        for script in host.iter("script"):
            if script.get("id") != "dicom-ping":
                continue
            for elem in script.iter("elem"):
                if elem.get("key") == "config":
                    verdict = NMAP_WORDS.get((elem.text or "").strip(), elem.text or "?")
        if addr:
            verdicts[addr] = verdict
    return verdicts, {}


PARSERS = {"medsurface": parse_medsurface, "nmap": parse_nmap}


def time_file(path):
    wall, rss = None, None
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            value = line.rsplit(": ", 1)[1]
            parts = [float(p) for p in value.split(":")]
            wall = 0.0
            for p in parts:
                wall = wall * 60 + p
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(": ", 1)[1])
    return wall, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    d = args.dir
    want = truth(d / "fleet.txt")
    meta = [l.split("\t", 1) for l in (d / "meta.tsv").read_text().splitlines() if "\t" in l]
    commands = [l.split("\t", 1) for l in (d / "commands.tsv").read_text().splitlines() if "\t" in l]

    runs = []  # dicts: round, tool, status, wall, rss, verdicts, extra
    for line in (d / "manifest.tsv").read_text().splitlines():
        rnd, tool, status, out, tfile = line.split("\t")
        wall, rss = time_file(d / tfile)
        text = (d / out).read_text(errors="replace")
        try:
            verdicts, extra = PARSERS[tool](text)
        except Exception as e:  # a tool that died mid-output: report it, do not crash
            verdicts, extra = {}, {"parse_error": str(e)}
        runs.append(dict(round=int(rnd), tool=tool, status=int(status), wall=wall, rss=rss,
                         verdicts=verdicts, extra=extra))

    def agreement(verdicts):
        ok = sum(1 for ip, v in want.items() if verdicts.get(ip) == v)
        wrong = {ip: (v, verdicts.get(ip, "missing")) for ip, v in want.items() if verdicts.get(ip) != v}
        stray = sorted(set(verdicts) - set(want))
        return ok, wrong, stray

    lines = []
    lines.append("| tool | verdicts matching the fleet (worst run) | wall, median | runs | peak RSS |")
    lines.append("|---|---|---|---|---|")
    tools = []
    for r in runs:
        if r["tool"] not in tools:
            tools.append(r["tool"])
    med = {}
    for tool in tools:
        rs = [r for r in runs if r["tool"] == tool]
        worst = min(agreement(r["verdicts"])[0] for r in rs)
        walls = [r["wall"] for r in rs if r["wall"] is not None]
        med[tool] = statistics.median(walls) if walls else None
        rss = max((r["rss"] or 0) for r in rs)
        each = ", ".join("%.2f" % w for w in walls)
        median = "%.2f s" % med[tool] if med[tool] is not None else "?"
        lines.append(f"| {tool} | {worst} / {len(want)} | {median} | {each} s | {rss / 1024:.1f} MB |")
    summary = []
    if "medsurface" in tools and "nmap" in tools:
        ratios = []
        cross = []
        for rnd in sorted({r["round"] for r in runs}):
            m = next((r for r in runs if r["round"] == rnd and r["tool"] == "medsurface"), None)
            n = next((r for r in runs if r["round"] == rnd and r["tool"] == "nmap"), None)
            if m and n and m["wall"] and n["wall"]:
                ratios.append(n["wall"] / m["wall"])
            if m and n:
                diff = [ip for ip in want if m["verdicts"].get(ip) != n["verdicts"].get(ip)]
                cross.append((rnd, diff))
        if ratios:
            summary.append(
                f"Speed: medsurface is {statistics.median(ratios):.2f}x nmap's speed "
                f"(median over rounds of nmap wall / medsurface wall; rounds: "
                f"{', '.join(f'{x:.2f}' for x in ratios)}). Aim of issue 3: at least 10x."
            )
        for rnd, diff in cross:
            summary.append(
                f"Round {rnd}: medsurface and nmap agree on {len(want) - len(diff)} / {len(want)} addresses"
                + (f"; differ on {', '.join(diff[:10])}{' …' if len(diff) > 10 else ''}" if diff else "")
            )

    detail = []
    for r in runs:
        ok, wrong, stray = agreement(r["verdicts"])
        counts = {}
        for v in r["verdicts"].values():
            counts[v] = counts.get(v, 0) + 1
        detail.append(
            f"- round {r['round']} {r['tool']}: exit {r['status']}, wall {r['wall']}, "
            f"RSS {r['rss']} KB, verdicts {dict(sorted(counts.items()))}, matching {ok}/{len(want)}"
            + (f", extra {r['extra']}" if r["extra"] else "")
        )
        for ip, (w, g) in list(wrong.items())[:10]:
            detail.append(f"  - {ip}: fleet says {w}, tool says {g}")
        if stray:
            detail.append(f"  - addresses outside the fleet: {stray[:10]}")

    text = ["# DICOM fleet benchmark", ""]
    text += [f"- {k}: {v}" for k, v in meta]
    text += ["", "## Summary", ""] + lines + [""] + summary
    text += ["", "## Commands", ""] + [f"- {t}: `{c}`" for t, c in commands]
    text += ["", "## Every run", ""] + detail + [""]
    args.out.write_text("\n".join(text))
    print("\n".join(lines + [""] + summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
