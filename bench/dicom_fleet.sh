#!/usr/bin/env bash
# DICOM fleet benchmark (issue 3, "Benchmark"): verify a fleet of simulated DICOM servers on
# loopback with medsurface and with nmap's dicom-ping, in the same run, R interleaved rounds,
# next to the machine's floor for the same exchanges (bench/dicom_floor.c, "floor").
#
# The fleet is N servers of `medsurface lab` (dicom-open and dicom-strict, built on dicom-ul)
# on N consecutive addresses from 127.A.0.1, one port; every K-th is strict (it rejects any
# called AE but its own with A-ASSOCIATE-RJ reason 7), the others accept any AE title and
# answer C-ECHO and C-FIND with no matches. Every tool gets the same address list. The report
# (bench/dicom_fleet_report.py) compares each tool's per-address verdict (accepted / rejected)
# with the fleet's own list and with the other tools, and gives the median wall time, the peak
# RSS and CPU time (/usr/bin/time -v), the lab's CPU time during each run, and the speed ratios
# (median over rounds of one tool's wall / another's in the same round).
#
# The floor is a single-threaded epoll C client that does, for every address, exactly the
# exchanges of medsurface's DICOM probe with --no-ae-checks, with the same bytes (association,
# C-ECHO, non-matching C-FIND, release) and nothing else: the best any client could do here.
#
# Traffic goes to 127.0.0.0/8 only: every address is built below from --octet.
#
# Usage: bench/dicom_fleet.sh [options]
#   --runs R            rounds of every tool, interleaved, order rotated (default 3)
#   --count N           servers in the fleet (default 1000; at most 65,000)
#   --strict-every K    every K-th server is dicom-strict (default 4: a quarter)
#   --octet A           the fleet lives at 127.A.0.1 onwards (default 91)
#   --port P            the one DICOM port (default 11112)
#   --tools LIST        any of floor,medsurface,nmap (default all three)
#   --floor-inflight N  sessions in flight for the floor (default 1000)
#   --floor-timeout MS  the floor's budget for one whole session (default 2000)
#   --no-build          never run cargo build; fail if the medsurface binary is missing
#   --no-install        never call apt-get; fail if a tool is missing
#   -h, --help          this text
# Environment: MEDSURFACE_BIN (default target/release/medsurface, built when missing unless
#   --no-build), MEDSURFACE_OPTS (extra scan options, default none), NMAP_OPTS (extra nmap
#   options, default none), BENCH_TOOL_TIMEOUT (seconds per tool run, default 900).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out

RUNS=3
COUNT=1000
STRICT_EVERY=4
OCTET=91
PORT=11112
TOOLS=floor,medsurface,nmap
FLOOR_INFLIGHT=1000
FLOOR_TIMEOUT=2000
BUILD=1
INSTALL=1
MEDSURFACE_OPTS=${MEDSURFACE_OPTS:-}
NMAP_OPTS=${NMAP_OPTS:-}
TOOL_TIMEOUT=${BENCH_TOOL_TIMEOUT:-900}

BENCH_NAME=dicom-fleet
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

while (($#)); do
    case $1 in
        --runs) RUNS=${2:?}; shift 2 ;;
        --count) COUNT=${2:?}; shift 2 ;;
        --strict-every) STRICT_EVERY=${2:?}; shift 2 ;;
        --octet) OCTET=${2:?}; shift 2 ;;
        --port) PORT=${2:?}; shift 2 ;;
        --tools) TOOLS=${2:?}; shift 2 ;;
        --floor-inflight) FLOOR_INFLIGHT=${2:?}; shift 2 ;;
        --floor-timeout) FLOOR_TIMEOUT=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown option: $1" ;;
    esac
done
for pair in runs:RUNS count:COUNT strict-every:STRICT_EVERY octet:OCTET port:PORT \
    floor-inflight:FLOOR_INFLIGHT floor-timeout:FLOOR_TIMEOUT; do
    v=${pair#*:}
    is_uint "${!v}" || die "--${pair%%:*} must be a non-negative integer, got '${!v}'"
done
((RUNS >= 1)) || die "--runs must be at least 1"
((COUNT >= 1 && COUNT <= 65000)) || die "--count must be in 1..65000"
((STRICT_EVERY >= 1)) || die "--strict-every must be at least 1"
((OCTET <= 255)) || die "--octet must be in 0..255"
((PORT >= 1 && PORT <= 65535)) || die "--port must be in 1..65535"
((FLOOR_INFLIGHT >= 1 && FLOOR_INFLIGHT <= 60000)) || die "--floor-inflight must be in 1..60000"
((FLOOR_TIMEOUT >= 1 && FLOOR_TIMEOUT <= 600000)) || die "--floor-timeout must be in 1..600000"
declare -A WANT=()
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case $t in
        floor|medsurface|nmap) WANT[$t]=1 ;;
        *) die "unknown tool '$t' (known: floor,medsurface,nmap)" ;;
    esac
done

# --- 1. What the bench needs, installed only when missing ------------------------------------
missing=()
command -v nmap >/dev/null || missing+=(nmap)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
command -v timeout >/dev/null || missing+=(coreutils)
if [[ -n ${WANT[floor]:-} ]]; then
    command -v gcc >/dev/null || missing+=(gcc)
    [[ -e /usr/include/x86_64-linux-gnu/sys/epoll.h || -e /usr/include/sys/epoll.h ]] ||
        missing+=(libc6-dev)
fi
install_missing "${missing[@]}"
[[ -f /usr/share/nmap/scripts/dicom-ping.nse ]] || [[ -z ${WANT[nmap]:-} ]] ||
    die "this nmap has no dicom-ping script (nmap 7.92 or later has it)"

# The lab is medsurface itself, so the binary is needed even with --tools nmap.
need_lab_binary

PYTHON=$(python3 -c 'import sys; print(sys.executable)')
FLOOR=$OUT/dicom_floor
if [[ -n ${WANT[floor]:-} ]]; then
    mkdir -p "$OUT"
    if [[ ! -x $FLOOR || $HERE/dicom_floor.c -nt $FLOOR ]]; then
        say "compiling dicom_floor.c"
        gcc -O2 -Wall -Wextra -std=c11 -o "$FLOOR" "$HERE/dicom_floor.c" ||
            die "dicom_floor.c did not compile"
    fi
fi
# Each server holds a listener and, while a tool visits it, a few connections.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$OUT/fleet-runs/$STAMP
mkdir -p "$RUN_DIR"

# --- 2. The fleet: the only addresses of this script ------------------------------------------
FLEET=$RUN_DIR/fleet.txt      # KIND@ADDR:PORT, the lab's input and the ground truth
ADDRS=$RUN_DIR/addresses.txt  # one address a line, every tool's input
: >"$FLEET"
: >"$ADDRS"
for ((i = 1; i <= COUNT; i++)); do
    ip="127.$OCTET.$((i >> 8)).$((i & 255))"
    kind=dicom-open
    ((i % STRICT_EVERY == 0)) && kind=dicom-strict
    printf '%s@%s:%s\n' "$kind" "$ip" "$PORT" >>"$FLEET"
    printf '%s\n' "$ip" >>"$ADDRS"
done
FIRST=$(head -1 "$ADDRS")
LAST=$(tail -1 "$ADDRS")

# --- 3. The commands, each defined once -------------------------------------------------------
read -r -a MEDSURFACE_EXTRA <<<"$MEDSURFACE_OPTS"
read -r -a NMAP_EXTRA <<<"$NMAP_OPTS"
DB=$OUT/fleet.db
declare -A CMD=()
CMD[floor]="$(printf '%q ' "$FLOOR" "$ADDRS" "$PORT" "$FLOOR_INFLIGHT" "$FLOOR_TIMEOUT")"
CMD[medsurface]="$(printf '%q ' "$MEDSURFACE" scan "@$ADDRS" --ports "$PORT" --rate unlimited \
    "${MEDSURFACE_EXTRA[@]}" --json --db "$DB")"
CMD[nmap]="$(printf '%q ' nmap -n -Pn -p "$PORT" "${NMAP_EXTRA[@]}" --script dicom-ping \
    -iL "$ADDRS" -oX -)"
ACTIVE=()
for t in "${TOOL_LIST[@]}"; do ACTIVE+=("$t"); done

META=$RUN_DIR/meta.tsv
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
: >"$META"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta fleet "$COUNT servers, $FIRST - $LAST port $PORT, every $STRICT_EVERY-th dicom-strict ($(grep -c '^dicom-strict' "$FLEET") strict, $(grep -c '^dicom-open' "$FLEET") open)"
meta runs "$RUNS"
meta machine "$(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta nmap_version "$(nmap --version | head -1)"
meta medsurface_binary "${MEDSURFACE#"$ROOT"/} (built $(date -u -r "$MEDSURFACE" '+%Y-%m-%d %H:%M UTC'))"
meta medsurface_commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
meta tool_order "rotated by one each round"
[[ -z ${WANT[floor]:-} ]] ||
    meta floor "bench/dicom_floor.c, gcc $(gcc -dumpfullversion) -O2, $FLOOR_INFLIGHT in flight, session budget $FLOOR_TIMEOUT ms"
for t in "${ACTIVE[@]}"; do
    printf '%s\t%s\n' "$t" "${CMD[$t]//$ROOT\//}" >>"$RUN_DIR/commands.tsv"
done

# --- 4. The lab ------------------------------------------------------------------------------
LAB_PID=
cleanup() {
    if [[ -n $LAB_PID ]]; then
        kill "$LAB_PID" 2>/dev/null || true
        wait "$LAB_PID" 2>/dev/null || true
        LAB_PID=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$MEDSURFACE" lab "@$FLEET" >"$RUN_DIR/lab.out" 2>"$RUN_DIR/lab.err" &
LAB_PID=$!
# The lab prints `serving N` once every listener is bound.
for ((i = 0; i < 600; i++)); do
    grep -qx "serving $COUNT" "$RUN_DIR/lab.out" 2>/dev/null && break
    if ! kill -0 "$LAB_PID" 2>/dev/null; then
        cat "$RUN_DIR/lab.err" >&2
        LAB_PID=
        die "the lab did not start"
    fi
    sleep 0.05
done
grep -qx "serving $COUNT" "$RUN_DIR/lab.out" || die "the lab was not serving within 30 s"
say "$COUNT DICOM servers up ($FIRST - $LAST:$PORT); results in $RUN_DIR"

# --- 5. The rounds ---------------------------------------------------------------------------
# The lab's CPU time (utime + stime of the lab process, its threads included) in clock ticks.
# Fields 14 and 15 of /proc/PID/stat, counted after the ") " that ends the command name.
lab_ticks() { sed 's/.*) //' "/proc/$LAB_PID/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
meta clock_ticks_per_s "$(getconf CLK_TCK)"
: >"$RUN_DIR/manifest.tsv"
n=${#ACTIVE[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((k = 0; k < n; k++)); do
        t=${ACTIVE[$(((k + r - 1) % n))]}
        base="r$r-$t"
        [[ $t == medsurface ]] && rm -f "$DB" "$DB-wal" "$DB-shm"
        eval "argv=(${CMD[$t]})"
        status=0
        lab_before=$(lab_ticks)
        # Wall time in microseconds as well: `time -v` gives 10 ms, a seventh of the floor's run.
        t_start=${EPOCHREALTIME/[.,]/}
        /usr/bin/time -v -o "$RUN_DIR/$base.time" timeout -k 10 "$TOOL_TIMEOUT" "${argv[@]}" \
            >"$RUN_DIR/$base.out" 2>"$RUN_DIR/$base.err" </dev/null || status=$?
        wall_us=$((${EPOCHREALTIME/[.,]/} - t_start))
        lab_cpu=$(($(lab_ticks) - lab_before))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$status" "$base.out" "$base.time" \
            "$lab_cpu" "$wall_us" >>"$RUN_DIR/manifest.tsv"
        wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$RUN_DIR/$base.time")
        say "round $r: $t exit $status, wall ${wall:-?} ($((wall_us / 1000)) ms)"
        if ((status != 0)); then
            tail -n 5 "$RUN_DIR/$base.err" | sed 's/^/    /' >&2
        fi
    done
done

cleanup
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. The figures --------------------------------------------------------------------------
RESULTS=$OUT/dicom-fleet-$STAMP.md
"$PYTHON" "$HERE/dicom_fleet_report.py" --dir "$RUN_DIR" --out "$RESULTS"
say "full report: $RESULTS"
