#!/usr/bin/env python3
"""Turn one bench run directory into figures: recall, false positives, wall, probes/s, peak RSS.

bench/run.sh leaves in its run directory a `manifest.tsv` (one line per tool invocation), the
tools' stdout and `/usr/bin/time -v` files, `truth.txt` (the listeners' ip:port list),
`commands.tsv` and `meta.tsv`. This script parses each tool's own output format into a set of
(ip, port), compares it with the truth, and writes the full Markdown report to --out; the
summary table (and the aims of issue 2) also goes to stdout.

Throughput against the C loop is the median over rounds of (C loop wall / tool wall) taken in
the same round, not a ratio of medians: runs are interleaved precisely so that load from other
work on the machine hits a round's tools alike, and a per-round ratio cancels most of it.
"""

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

TOOL_LABEL = {
    "c": "C connect loop (limit)",
    "medsurface": "medsurface",
    "nmap": "nmap -sT",
    "rustscan": "rustscan",
}

OPEN_WORDS = {"open"}


def parse_c(text):
    found, bad = set(), 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        ip, sep, port = line.rpartition(":")
        if sep and port.isdigit():
            found.add((ip, int(port)))
        else:
            bad += 1
    return found, bad


def parse_medsurface(text):
    """One JSON object per line; `ip` and `port` name the service. A record that carries an
    outcome/state/status field other than "open" is not counted as found."""
    found, bad = set(), 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(rec, dict):
            bad += 1
            continue
        state = next((rec[k] for k in ("outcome", "state", "status") if k in rec), "open")
        if isinstance(state, str) and state.lower() not in OPEN_WORDS:
            continue
        ip = rec.get("ip", rec.get("address"))
        port = rec.get("port")
        try:
            found.add((str(ip), int(port)))
        except (TypeError, ValueError):
            bad += 1
    return found, bad


NMAP_PORT = re.compile(r"(\d+)/([a-z|]+)/tcp")


def parse_nmap(text):
    """Greppable output (-oG): `Host: IP ()<TAB>Ports: 104/open/tcp//acr-nema///, ...`."""
    found = set()
    for line in text.splitlines():
        if not line.startswith("Host: ") or "Ports: " not in line:
            continue
        ip = line.split()[1]
        ports = line.split("Ports: ", 1)[1].split("\t", 1)[0]
        for port, state in NMAP_PORT.findall(ports):
            if state == "open":
                found.add((ip, int(port)))
    return found, 0


RUSTSCAN_GREP = re.compile(r"^(\d+\.\d+\.\d+\.\d+) -> \[([\d,]*)\]")
RUSTSCAN_OPEN = re.compile(r"^Open (\d+\.\d+\.\d+\.\d+):(\d+)")


def parse_rustscan(text):
    """Greppable mode (-g): `IP -> [p1,p2]`; also accepts `Open IP:PORT` lines."""
    found = set()
    for line in text.splitlines():
        m = RUSTSCAN_GREP.match(line.strip())
        if m:
            for p in filter(None, m.group(2).split(",")):
                found.add((m.group(1), int(p)))
            continue
        m = RUSTSCAN_OPEN.match(line.strip())
        if m:
            found.add((m.group(1), int(m.group(2))))
    return found, 0


PARSERS = {"c": parse_c, "medsurface": parse_medsurface, "nmap": parse_nmap,
           "rustscan": parse_rustscan}


def parse_time_v(path):
    """Wall seconds and peak RSS (KiB) from GNU time -v, or (None, None)."""
    wall = rss = None
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            value = line.rsplit(" ", 1)[1]
            secs = 0.0
            for part in value.split(":"):
                secs = secs * 60 + float(part)
            wall = secs
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(" ", 1)[1])
    return wall, rss


def load_truth(path):
    truth = set()
    for line in Path(path).read_text().splitlines():
        if line.strip():
            ip, _, port = line.strip().rpartition(":")
            truth.add((ip, int(port)))
    return truth


def read_tsv(path):
    rows = []
    p = Path(path)
    if not p.exists():
        return rows
    for line in p.read_text().splitlines():
        if line.strip():
            rows.append(line.split("\t"))
    return rows


def fmt_rate(x):
    return "—" if x is None else f"{x:,.0f}"


def fmt_s(x):
    return "—" if x is None else f"{x:.2f}"


def fmt_mb(kib):
    return "—" if kib is None else f"{kib / 1024:.1f}"


def fmt_pct(x):
    return "—" if x is None else f"{100 * x:.1f} %"


def evaluate(run_dir, truth):
    """One record per manifest line."""
    runs = []
    for row in read_tsv(run_dir / "manifest.tsv"):
        section, rnd, tool, status, out, timef, probes, ports = row
        wanted_ports = {int(p) for p in ports.split(",")}
        want = {t for t in truth if t[1] in wanted_ports}
        try:
            text = (run_dir / out).read_text(errors="replace")
        except OSError:
            text = ""
        found, bad = PARSERS[tool.split("@")[0]](text)
        wall, rss = parse_time_v(run_dir / timef)
        tp = len(found & want)
        runs.append({
            "section": section, "round": int(rnd), "tool": tool, "status": int(status),
            "ok": int(status) == 0 and wall is not None, "wall": wall, "rss": rss,
            "probes": int(probes), "found": len(found), "tp": tp,
            "fp": len(found - want), "truth": len(want), "bad": bad,
            "recall": tp / len(want) if want else None,
        })
    return runs


def summarize(runs, tools):
    base_by_round = {r["round"]: r["wall"] for r in runs if r["tool"] == "c" and r["ok"]}
    rows = {}
    for tool in tools:
        mine = [r for r in runs if r["tool"] == tool]
        if not mine:
            continue
        ok = [r for r in mine if r["ok"]]
        walls = [r["wall"] for r in ok]
        wall = statistics.median(walls) if walls else None
        ratios = [base_by_round[r["round"]] / r["wall"] for r in ok
                  if r["round"] in base_by_round and r["wall"]]
        rows[tool] = {
            "runs": f"{len(ok)}/{len(mine)}",
            "recall": min((r["recall"] for r in mine if r["recall"] is not None), default=None),
            "fp": max(r["fp"] for r in mine),
            "wall": wall,
            "rate": mine[0]["probes"] / wall if wall else None,
            "vs_c": statistics.median(ratios) if ratios else None,
            "rss": max((r["rss"] for r in ok if r["rss"] is not None), default=None),
            "walls": walls,
        }
    return rows


def summary_table(rows, probes):
    out = [f"| tool | runs ok | recall (worst run) | false positives (max) | wall, median (s) "
           f"| probes/s ({probes:,} / wall) | throughput vs C loop (median of per-round ratios) "
           f"| peak RSS (MB, max) |",
           "|---|---|---|---|---|---|---|---|"]
    for tool, s in rows.items():
        recall = "—" if s["recall"] is None else f"{100 * s['recall']:.2f} %"
        out.append(f"| {TOOL_LABEL.get(tool, tool)} | {s['runs']} | {recall} | {s['fp']} "
                   f"| {fmt_s(s['wall'])} | {fmt_rate(s['rate'])} | {fmt_pct(s['vs_c'])} "
                   f"| {fmt_mb(s['rss'])} |")
    return "\n".join(out)


def aims(rows, scaling):
    ms = rows.get("medsurface")
    if ms is None:
        return "medsurface was not measured in this run: no verdict on the aims of issue 2."
    def mark(ok):
        return "yes" if ok else "NO"
    lines = ["| aim (issue 2, section 9) | measured | met |", "|---|---|---|"]
    rec = ms["recall"]
    lines.append(f"| 100 % recall in every run | worst {('—' if rec is None else f'{100 * rec:.2f} %')}, "
                 f"{ms['fp']} false positives | {mark(rec == 1.0 and ms['fp'] == 0)} |")
    if ms["vs_c"] is not None:
        lines.append(f"| at least 90 % of the C loop's throughput | {fmt_pct(ms['vs_c'])} "
                     f"| {mark(ms['vs_c'] >= 0.9)} |")
    for other in ("nmap", "rustscan"):
        o = rows.get(other)
        if o and o["wall"] and ms["wall"]:
            lines.append(f"| ahead of {TOOL_LABEL[other]} | {fmt_s(ms['wall'])} s vs "
                         f"{fmt_s(o['wall'])} s (median wall) | {mark(ms['wall'] < o['wall'])} |")
    if scaling:
        small, big = scaling
        if small["rss"] and big["rss"]:
            ratio = big["rss"] / small["rss"]
            lines.append(f"| memory does not grow with the target space | /12: {fmt_mb(big['rss'])} MB "
                         f"vs /16: {fmt_mb(small['rss'])} MB (x{ratio:.2f} for 16x the addresses; "
                         f"met if at most x1.5) | {mark(ratio <= 1.5)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    run_dir = args.dir

    meta = {k: v for k, v in (r[:2] for r in read_tsv(run_dir / "meta.tsv") if len(r) >= 2)}
    truth = load_truth(run_dir / "truth.txt")
    runs = evaluate(run_dir, truth)
    main_runs = [r for r in runs if r["section"] == "main"]
    tools = list(dict.fromkeys(r["tool"] for r in main_runs))
    probes = main_runs[0]["probes"] if main_runs else 0
    rows = summarize(main_runs, tools)

    scale_runs = [r for r in runs if r["section"] == "scaling"]
    scaling = None
    if scale_runs:
        by = {r["tool"]: r for r in scale_runs}
        if "medsurface@16" in by and "medsurface@12" in by:
            scaling = (by["medsurface@16"], by["medsurface@12"])

    summary = [f"## Loopback scan benchmark, {meta.get('date', '?')}", "",
               f"Target: {meta.get('target', '?')} x ports {meta.get('ports', '?')} = "
               f"{probes:,} probes; {len(truth)} listeners (seed {meta.get('seed', '?')}); "
               f"{meta.get('runs', '?')} interleaved rounds; machine: {meta.get('machine', '?')}; "
               f"load average before/after: {meta.get('load_before', '?')} / "
               f"{meta.get('load_after', '?')}.", "",
               summary_table(rows, probes), "", aims(rows, scaling)]
    if scaling:
        summary += ["", "Memory scaling (medsurface, one port):", "",
                    "| target | probes | exit | wall (s) | probes/s | recall | peak RSS (MB) |",
                    "|---|---|---|---|---|---|---|"]
        for r in scaling:
            rate = r["probes"] / r["wall"] if r["wall"] else None
            rec = "—" if r["recall"] is None else f"{100 * r['recall']:.2f} %"
            summary.append(f"| {meta.get('scaling_' + r['tool'].split('@')[1], r['tool'])} "
                           f"| {r['probes']:,} | {r['status']} | {fmt_s(r['wall'])} | {fmt_rate(rate)} "
                           f"| {rec} | {fmt_mb(r['rss'])} |")
    for note in (v for k, v in sorted(meta.items()) if k.startswith("note")):
        summary += ["", f"Note: {note}"]
    summary_text = "\n".join(summary) + "\n"

    full = [summary_text, "### Commands", ""]
    for row in read_tsv(run_dir / "commands.tsv"):
        full.append(f"- {TOOL_LABEL.get(row[0].split('@')[0], row[0])} (`{row[0]}`): `{row[1]}`")
    full += ["", "### Versions and settings", ""]
    for k, v in meta.items():
        if not k.startswith("note"):
            full.append(f"- {k}: {v}")
    full += ["", "### Every run", "",
             "| section | round | tool | exit | wall (s) | peak RSS (MB) | found | true pos "
             "| false pos | recall | unparsed lines |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        rec = "—" if r["recall"] is None else f"{100 * r['recall']:.2f} %"
        full.append(f"| {r['section']} | {r['round']} | {r['tool']} | {r['status']} | {fmt_s(r['wall'])} "
                    f"| {fmt_mb(r['rss'])} | {r['found']} | {r['tp']} | {r['fp']} | {rec} | {r['bad']} |")
    full += ["", f"Raw outputs: `{run_dir}`.", ""]
    args.out.write_text("\n".join(full))
    sys.stdout.write(summary_text)


if __name__ == "__main__":
    main()
