#!/usr/bin/env python3
"""Turn one DICOM fleet run directory into figures: verdict agreement, wall, RSS, CPU, ratios.

bench/dicom_fleet.sh leaves in its run directory `fleet.txt` (the servers as KIND@ADDR:PORT:
the ground truth), `manifest.tsv` (round, tool, exit status, stdout file, time file, and,
when recorded, the lab's CPU ticks during the run and the wall time in microseconds),
`commands.tsv`, `meta.tsv`, and each run's stdout and `/usr/bin/time -v` output. Wall times
come from the microsecond column when it is there (it includes starting `time` and `timeout`,
a few ms, alike for every tool), else from `time -v` (10 ms steps).

Verdicts, per address:
- the truth: dicom-open is "accepted", dicom-strict is "rejected" (for the called AE ANY-SCP
  that both tools send);
- medsurface `--json`: the `dicom.association` detail of the record on that address;
- nmap `-oX` with dicom-ping: "Any AET is accepted (Insecure)" is "accepted", "Called AET check
  enabled" is "rejected" (the script says so on any A-ASSOCIATE-RJ);
- the floor (bench/dicom_floor.c): `ADDR accepted|rejected|aborted|error`, one a line.
Anything else (no record, no script output, another verdict) is counted as "missing" or by its
own name, and is a disagreement.

A speed ratio is the median over rounds of (slower tool's wall / faster tool's wall) in the
same round, not a ratio of medians: rounds are interleaved so that load from other work on the
machine hits every tool alike, and a per-round ratio cancels most of it. The ratios given are
nmap / medsurface (the aim of issue 3), nmap / floor (the best any client could reach here)
and medsurface / floor.

CPU is the tool's user + system time from `time -v` (its children included); the lab's CPU is
its utime + stime from /proc during the tool's run, which is the servers' side of the work.
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


def parse_floor(text):
    verdicts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            verdicts[parts[0]] = parts[1]
    return verdicts, {}


PARSERS = {"floor": parse_floor, "medsurface": parse_medsurface, "nmap": parse_nmap}
# (slower, faster): the ratios reported, when both tools ran.
RATIOS = [("nmap", "medsurface"), ("nmap", "floor"), ("medsurface", "floor")]


def time_file(path):
    wall, rss, cpu = None, None, 0.0
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("User time (seconds)") or line.startswith("System time (seconds)"):
            cpu += float(line.rsplit(": ", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            value = line.rsplit(": ", 1)[1]
            parts = [float(p) for p in value.split(":")]
            wall = 0.0
            for p in parts:
                wall = wall * 60 + p
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(": ", 1)[1])
    return wall, rss, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    d = args.dir
    want = truth(d / "fleet.txt")
    meta = [l.split("\t", 1) for l in (d / "meta.tsv").read_text().splitlines() if "\t" in l]
    commands = [l.split("\t", 1) for l in (d / "commands.tsv").read_text().splitlines() if "\t" in l]

    hz = float(dict(meta).get("clock_ticks_per_s", "100"))

    runs = []  # dicts: round, tool, status, wall, rss, cpu, lab_cpu, verdicts, extra
    for line in (d / "manifest.tsv").read_text().splitlines():
        fields = line.split("\t")
        rnd, tool, status, out, tfile = fields[:5]
        lab_cpu = int(fields[5]) / hz if len(fields) > 5 and fields[5] else None
        wall, rss, cpu = time_file(d / tfile)
        if len(fields) > 6 and fields[6]:
            wall = int(fields[6]) / 1e6
        text = (d / out).read_text(errors="replace")
        try:
            verdicts, extra = PARSERS[tool](text)
        except Exception as e:  # a tool that died mid-output: report it, do not crash
            verdicts, extra = {}, {"parse_error": str(e)}
        err = d / (out[: -len(".out")] + ".err")
        if tool == "floor" and err.exists():
            # The floor's own summary: sessions completed, faults by kind, its own elapsed time.
            last = err.read_text(errors="replace").strip().splitlines()[-1:]
            extra["summary"] = last[0] if last else ""
        runs.append(dict(round=int(rnd), tool=tool, status=int(status), wall=wall, rss=rss,
                         cpu=cpu, lab_cpu=lab_cpu, verdicts=verdicts, extra=extra))

    def agreement(verdicts):
        ok = sum(1 for ip, v in want.items() if verdicts.get(ip) == v)
        wrong = {ip: (v, verdicts.get(ip, "missing")) for ip, v in want.items() if verdicts.get(ip) != v}
        stray = sorted(set(verdicts) - set(want))
        return ok, wrong, stray

    lines = []
    lines.append("| tool | verdicts matching the fleet (worst run) | wall, median | runs | peak RSS "
                 "| CPU (user+sys), median | lab CPU during the run, median |")
    lines.append("|---|---|---|---|---|---|---|")
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
        each = ", ".join("%.3f" % w for w in walls)
        median = "%.3f s" % med[tool] if med[tool] is not None else "?"
        cpu = "%.2f s" % statistics.median(r["cpu"] for r in rs)
        labs = [r["lab_cpu"] for r in rs if r["lab_cpu"] is not None]
        lab = "%.2f s" % statistics.median(labs) if labs else "not recorded"
        lines.append(f"| {tool} | {worst} / {len(want)} | {median} | {each} s | {rss / 1024:.1f} MB "
                     f"| {cpu} | {lab} |")
    summary = []
    rounds = sorted({r["round"] for r in runs})

    def run_of(rnd, tool):
        return next((r for r in runs if r["round"] == rnd and r["tool"] == tool), None)

    for slow, fast in RATIOS:
        if slow not in tools or fast not in tools:
            continue
        ratios = []
        for rnd in rounds:
            a, b = run_of(rnd, slow), run_of(rnd, fast)
            if a and b and a["wall"] and b["wall"]:
                ratios.append(a["wall"] / b["wall"])
        if not ratios:
            continue
        what = {
            ("nmap", "medsurface"): "medsurface is {x:.2f}x nmap's speed",
            ("nmap", "floor"): "the floor is {x:.2f}x nmap's speed (the best ratio any client could reach here)",
            ("medsurface", "floor"): "the floor is {x:.2f}x medsurface's speed",
        }[(slow, fast)].format(x=statistics.median(ratios))
        aim = " Aim of issue 3: at least 10x." if (slow, fast) == ("nmap", "medsurface") else ""
        summary.append(
            f"Speed: {what} (median over rounds of {slow} wall / {fast} wall; rounds: "
            f"{', '.join(f'{x:.2f}' for x in ratios)}).{aim}"
        )
    for i, a_tool in enumerate(tools):
        for b_tool in tools[i + 1:]:
            for rnd in rounds:
                a, b = run_of(rnd, a_tool), run_of(rnd, b_tool)
                if not (a and b):
                    continue
                diff = [ip for ip in want if a["verdicts"].get(ip) != b["verdicts"].get(ip)]
                summary.append(
                    f"Round {rnd}: {a_tool} and {b_tool} agree on {len(want) - len(diff)} / {len(want)} addresses"
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
            f"RSS {r['rss']} KB, CPU {r['cpu']:.2f} s, lab CPU "
            f"{'%.2f s' % r['lab_cpu'] if r['lab_cpu'] is not None else '?'}, verdicts {dict(sorted(counts.items()))}, matching {ok}/{len(want)}"
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
