#!/usr/bin/env bash
# Import benchmark (issue 5, "Benchmark"): `medsurface ingest shodan` of a ≥ 1 GB synthetic
# Shodan export, end to end (parse, classify, store in SQLite), against jq doing the
# equivalent filter-and-count over the same file, in R interleaved rounds.
#
# The corpus comes from bench/gen_shodan.py (deterministic for a seed; addresses from
# 198.18.0.0/15 and 2001:db8::/32, names under .example: no real host). It is written outside
# the repository (default /tmp/medsurface-bench) and reused when it is already there.
#
# Each round runs every tool once, in an order rotated per round, under /usr/bin/time -v:
#   medsurface  `medsurface ingest shodan CORPUS --db FRESH.db` (a new store every run)
#   before      the same with a second binary (--before BIN), e.g. an older build, if given
#   jq          `jq -c 'select(.port==104)' CORPUS | wc -l` (parse every banner, filter, count)
#   floor       `import_floor CORPUS FRESH.db` (crates/store/examples/import_floor.rs): the least
#               work an importer into this store must do. Two threads parse every line with
#               serde_json and keep only address and port; each line becomes a pre-built row of
#               the import's average size, written by the store's import writer as medsurface
#               writes it. No mapping, classification or enrichment. What no importer that
#               keeps this store can beat on this machine.
# and the report gives, per tool, the median wall time (min–max), MB/s and banners/s at the
# median, the largest peak RSS, and the median over rounds of jq's wall / the tool's wall in
# the same round (the machine is shared, so only same-round ratios are compared). The load
# average before and after is recorded.
#
# Usage: bench/import.sh [options]
#   --size-mb N     corpus size in MiB of text (default 1024)
#   --seed S        generator seed (default 1)
#   --corpus PATH   corpus file (default /tmp/medsurface-bench/shodan-<N>mb-s<S>.jsonl)
#   --runs R        interleaved rounds (default 3)
#   --before BIN    also time this medsurface binary, as "before"
#   --tools LIST    any of medsurface,before,jq,floor (default: all that apply)
#   --no-build      never run cargo build; fail if a binary is missing
#   -h, --help      this text
# Environment: MEDSURFACE_BIN (default target/release/medsurface, built when missing unless
#   --no-build), FLOOR_BIN (default target/release/examples/import_floor, built likewise),
#   BENCH_DIR (work directory, default /tmp/medsurface-bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
WORK=${BENCH_DIR:-/tmp/medsurface-bench}

SIZE=1024
SEED=1
CORPUS=
RUNS=3
BEFORE=
TOOLS=
BUILD=1

BENCH_NAME=import
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

while (($#)); do
    case $1 in
        --size-mb) SIZE=${2:?}; shift 2 ;;
        --seed) SEED=${2:?}; shift 2 ;;
        --corpus) CORPUS=${2:?}; shift 2 ;;
        --runs) RUNS=${2:?}; shift 2 ;;
        --before) BEFORE=${2:?}; shift 2 ;;
        --tools) TOOLS=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown option: $1" ;;
    esac
done
is_uint "$SIZE" && ((SIZE >= 1)) || die "--size-mb must be a positive integer, got '$SIZE'"
is_uint "$SEED" || die "--seed must be a non-negative integer, got '$SEED'"
is_uint "$RUNS" && ((RUNS >= 1)) || die "--runs must be a positive integer, got '$RUNS'"
[[ -z $BEFORE || -x $BEFORE ]] || die "--before: '$BEFORE' is not an executable"
if [[ -z $TOOLS ]]; then
    TOOLS=medsurface,jq,floor
    [[ -n $BEFORE ]] && TOOLS=medsurface,before,jq,floor
fi
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case $t in
        medsurface|jq|floor) ;;
        before) [[ -n $BEFORE ]] || die "--tools before needs --before BIN" ;;
        *) die "unknown tool '$t' (known: medsurface,before,jq,floor)" ;;
    esac
done
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
command -v python3 >/dev/null || die "python3 is missing"

mkdir -p "$WORK" "$OUT"
CORPUS=${CORPUS:-$WORK/shodan-${SIZE}mb-s${SEED}.jsonl}
case $(cd "$(dirname "$CORPUS")" 2>/dev/null && pwd)/ in
    "$ROOT"/*) die "--corpus must be outside the repository ($CORPUS)" ;;
esac

# --- 1. The corpus and the binary ------------------------------------------------------------
if [[ ! -s $CORPUS ]]; then
    say "writing a ${SIZE} MiB corpus to $CORPUS (seed $SEED) …"
    python3 "$HERE/gen_shodan.py" --size-mb "$SIZE" --seed "$SEED" -o "$CORPUS" >&2
fi
BYTES=$(stat -c %s "$CORPUS")
BANNERS=$(wc -l <"$CORPUS")

medsurface_binary
BIN=$MEDSURFACE
[[ -x $BIN ]] || die "no medsurface binary at $BIN (build it, or drop --no-build)"
FLOOR=
if [[ ,$TOOLS, == *,floor,* ]]; then
    FLOOR=${FLOOR_BIN:-$ROOT/target/release/examples/import_floor}
    if [[ ! -x $FLOOR && -z ${FLOOR_BIN:-} && $BUILD == 1 ]]; then
        say "$FLOOR is missing; cargo build --release -p medsurface-store --example import_floor"
        (cd "$ROOT" && cargo build --release -p medsurface-store --example import_floor >&2) ||
            say "the build failed"
    fi
    [[ -x $FLOOR ]] || die "no import_floor binary at $FLOOR (build it, or drop --no-build)"
fi

# --- 2. Interleaved rounds -------------------------------------------------------------------
RES=$WORK/results.tsv
: >"$RES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

run_one() { # tool round
    local tool=$1 round=$2 log=$WORK/$1.$2.time db=$WORK/$1.db
    local -a cmd
    rm -f "$db" "$db-wal" "$db-shm"
    case $tool in
        medsurface) cmd=("$BIN" ingest shodan "$CORPUS" --db "$db") ;;
        before) cmd=("$BEFORE" ingest shodan "$CORPUS" --db "$db") ;;
        jq) cmd=(sh -c 'jq -c "select(.port==104)" "$1" | wc -l' jq "$CORPUS") ;;
        floor) cmd=("$FLOOR" "$CORPUS" "$db") ;;
    esac
    local t0 t1
    t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$log" "${cmd[@]}" >"$WORK/$tool.$round.out" 2>"$WORK/$tool.$round.err"; then
        say "$tool failed in round $round; see $WORK/$tool.$round.err"
        tail -5 "$WORK/$tool.$round.err" >&2
        exit 3
    fi
    t1=$(date +%s.%N)
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    printf '%s\t%s\t%s\t%s\n' "$round" "$tool" "$(echo "$t1 - $t0" | bc -l)" "$rss" >>"$RES"
    say "round $round: $tool $(echo "$t1 - $t0" | bc -l | cut -c1-6) s, peak RSS $((rss / 1024)) MiB"
    rm -f "$db" "$db-wal" "$db-shm"
}

n=${#TOOL_LIST[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((i = 0; i < n; i++)); do
        run_one "${TOOL_LIST[$(((i + r - 1) % n))]}" "$r"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 3. Report -------------------------------------------------------------------------------
REPORT=$OUT/import-$(date -u +%Y%m%dT%H%M%SZ).md
COMMIT=$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)
python3 - "$RES" "$BYTES" "$BANNERS" "$CORPUS" "$STARTED" "$COMMIT" "$LOAD_BEFORE" "$LOAD_AFTER" "$RUNS" >"$REPORT" <<'PY'
import statistics, sys
res, size, banners, corpus, started, commit, load0, load1, runs = sys.argv[1:]
size, banners = int(size), int(banners)
rows = [l.rstrip("\n").split("\t") for l in open(res) if l.strip()]
by = {}
for r, tool, wall, rss in rows:
    by.setdefault(tool, {})[int(r)] = (float(wall), int(rss))
print(f"Corpus: `{corpus}` ({size / 1e6:.1f} MB, {banners:,} banners). {started}, commit {commit},")
print(f"{runs} interleaved rounds, load average {load0} before and {load1} after.")
print()
print("| tool | median wall (min–max) | MB/s | banners/s | peak RSS | jq wall / tool wall (median of rounds) |")
print("|---|---|---|---|---|---|")
jq = by.get("jq", {})
for tool in ["medsurface", "before", "jq", "floor"]:
    if tool not in by:
        continue
    walls = [w for w, _ in by[tool].values()]
    med = statistics.median(walls)
    rss = max(m for _, m in by[tool].values())
    ratios = [jq[r][0] / w for r, (w, _) in by[tool].items() if r in jq]
    ratio = f"{statistics.median(ratios):.2f}×" if ratios and tool != "jq" else "1×"
    print(f"| {tool} | {med:.2f} s ({min(walls):.2f}–{max(walls):.2f}) | {size / 1e6 / med:.0f} "
          f"| {banners / med:,.0f} | {rss / 1024:.1f} MiB | {ratio} |")
PY
cat "$REPORT"
say "report: $REPORT"
