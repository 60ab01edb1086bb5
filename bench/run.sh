#!/usr/bin/env bash
# Loopback scan benchmark (issue 2, section 9): medsurface against nmap -sT, rustscan and a
# minimal C epoll connect() loop that stands for the machine's limit, on one 127.A.0.0/16 with
# about 500 listeners on random addresses. Every tool runs under /usr/bin/time -v, R rounds,
# interleaved; bench/report.py turns the outputs into recall, false positives, wall, probes/s,
# peak RSS and throughput as a share of the C loop. See bench/README.md.
#
# Traffic goes to 127.0.0.0/8 only: the one target is built from --octet below, and every
# tool's address argument is derived from it.
#
# Usage: bench/run.sh [options]
#   --runs R            rounds of all tools, interleaved (default 3)
#   --tools LIST        any of c,medsurface,nmap,rustscan (default: all four)
#   --octet A           scan 127.A.0.0/16 (default 77)
#   --listeners N       listeners to start (default 500)
#   --seed S            seed of the listeners' addresses and of medsurface's order (default 2)
#   --concurrency N     connections in flight for the C loop, medsurface and rustscan (default 1000)
#   --c-inflight N      in flight for the C loop alone (default: --concurrency); see README
#   --timeout MS        connect timeout of the C loop and rustscan (default 1000)
#   --with-rustscan     install rustscan with cargo if missing (compiles for minutes); same as
#                       BENCH_RUSTSCAN=1
#   --scaling           also scan a /16 and the /12 around it with medsurface on one port and
#                       compare peak memory (about 1M more probes)
#   --no-build          never run cargo build for medsurface; skip it if the binary is missing
#   --no-install        never call apt-get; fail if a tool is missing
#   -h, --help          this text
# Environment: MEDSURFACE_BIN (default target/release/medsurface, built when missing unless
#   --no-build or MEDSURFACE_BIN is set), NMAP_OPTS (default "-T5 --min-parallelism 1000"),
#   RUSTSCAN_VERSION (pin the cargo install), BENCH_TOOL_TIMEOUT (seconds per tool run, 900).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out

RUNS=3
TOOLS=c,medsurface,nmap,rustscan
OCTET=77
LISTENERS=500
SEED=2
CONCURRENCY=1000
C_INFLIGHT=
TIMEOUT_MS=1000
WITH_RUSTSCAN=${BENCH_RUSTSCAN:-0}
SCALING=0
BUILD=1
INSTALL=1
PORTS=104,4242,11112
NMAP_OPTS=${NMAP_OPTS:--T5 --min-parallelism 1000}
TOOL_TIMEOUT=${BENCH_TOOL_TIMEOUT:-900}

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

while (($#)); do
    case $1 in
        --runs) RUNS=${2:?}; shift 2 ;;
        --tools) TOOLS=${2:?}; shift 2 ;;
        --octet) OCTET=${2:?}; shift 2 ;;
        --listeners) LISTENERS=${2:?}; shift 2 ;;
        --seed) SEED=${2:?}; shift 2 ;;
        --concurrency) CONCURRENCY=${2:?}; shift 2 ;;
        --c-inflight) C_INFLIGHT=${2:?}; shift 2 ;;
        --timeout) TIMEOUT_MS=${2:?}; shift 2 ;;
        --with-rustscan) WITH_RUSTSCAN=1; shift ;;
        --scaling) SCALING=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown option: $1" ;;
    esac
done

C_INFLIGHT=${C_INFLIGHT:-$CONCURRENCY}
for pair in runs:RUNS octet:OCTET listeners:LISTENERS seed:SEED concurrency:CONCURRENCY \
    c-inflight:C_INFLIGHT timeout:TIMEOUT_MS; do
    v=${pair#*:}
    is_uint "${!v}" || die "--${pair%%:*} must be a non-negative integer, got '${!v}'"
done
((C_INFLIGHT >= 1)) || die "--c-inflight must be at least 1"
((RUNS >= 1)) || die "--runs must be at least 1"
((OCTET <= 255)) || die "--octet must be in 0..255"
((CONCURRENCY >= 1)) || die "--concurrency must be at least 1"

# The only targets of this script. Nothing below builds an address any other way.
NET=127.$OCTET
TARGET=$NET.0.0/16
SCALE_OCTET=$((OCTET & 0xF0))
TARGET12=127.$SCALE_OCTET.0.0/12
IFS=, read -r -a PORT_LIST <<<"$PORTS"
PROBES=$((65536 * ${#PORT_LIST[@]}))

declare -A WANT=()
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case $t in
        c|medsurface|nmap|rustscan) WANT[$t]=1 ;;
        *) die "unknown tool '$t' (known: c,medsurface,nmap,rustscan)" ;;
    esac
done

# --- 1. What the bench needs, installed only when missing ------------------------------------
ensure_packages() {
    local missing=()
    command -v nmap >/dev/null || missing+=(nmap)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v gcc >/dev/null || missing+=(gcc)
    [[ -e /usr/include/x86_64-linux-gnu/sys/epoll.h || -e /usr/include/sys/epoll.h ]] || missing+=(libc6-dev)
    command -v python3 >/dev/null || missing+=(python3)
    command -v timeout >/dev/null || missing+=(coreutils)
    install_missing "${missing[@]}"
}

declare -A SKIP=()   # tool -> why it was not run
RUSTSCAN=
find_rustscan() {
    if [[ -x $OUT/tools/bin/rustscan ]]; then
        RUSTSCAN=$OUT/tools/bin/rustscan
    elif command -v rustscan >/dev/null; then
        RUSTSCAN=$(command -v rustscan)
    elif ((WITH_RUSTSCAN)); then
        command -v cargo >/dev/null || { SKIP[rustscan]="cargo not found"; say "rustscan: ${SKIP[rustscan]}, skipping it"; return 0; }
        local version=()
        [[ -n ${RUSTSCAN_VERSION:-} ]] && version=(--version "$RUSTSCAN_VERSION")
        say "rustscan: cargo install rustscan --locked --root $OUT/tools (takes minutes)"
        if cargo install rustscan --locked "${version[@]}" --root "$OUT/tools" >&2; then
            RUSTSCAN=$OUT/tools/bin/rustscan
        else
            SKIP[rustscan]="cargo install rustscan failed"
            say "rustscan: ${SKIP[rustscan]}, skipping it"
        fi
    else
        SKIP[rustscan]="not installed (--with-rustscan installs it)"
        say "rustscan: not installed, skipping it (pass --with-rustscan or BENCH_RUSTSCAN=1 to" \
            "install it with cargo into bench/out/tools; it compiles for several minutes)"
    fi
}

MEDSURFACE=
find_medsurface() {
    medsurface_binary
    local bin=$MEDSURFACE
    MEDSURFACE=
    if [[ ! -x $bin ]]; then
        SKIP[medsurface]="no binary at ${bin#"$ROOT"/}"
        say "medsurface: SKIPPED, no binary at $bin (build it with 'cargo build --release -p" \
            "medsurface' or point MEDSURFACE_BIN at one)"
        return 0
    fi
    if ! "$bin" scan --help >/dev/null 2>&1; then
        SKIP[medsurface]="${bin#"$ROOT"/} has no working 'scan' command"
        say "medsurface: SKIPPED, $bin has no working 'scan' command yet"
        return 0
    fi
    MEDSURFACE=$bin
}

ensure_packages
# The interpreter itself, not a version manager's shim that forks it: $! must be the listeners'
# own pid, or the trap would kill the shim and leave the listeners running.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
mkdir -p "$OUT"
CLOOP=$OUT/connect_loop
if [[ ! -x $CLOOP || $HERE/connect_loop.c -nt $CLOOP ]]; then
    say "compiling connect_loop.c"
    gcc -O2 -Wall -Wextra -std=c11 -o "$CLOOP" "$HERE/connect_loop.c"
fi
[[ -n ${WANT[rustscan]:-} ]] && find_rustscan
[[ -n ${WANT[medsurface]:-} ]] && find_medsurface

# Every tool gets the same open-files limit, raised as far as allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- 2. The commands, each defined once ------------------------------------------------------
# Each command is kept as one shell-quoted string, shown as is in the report and turned back
# into words with eval; only words with unusual characters are quoted (printf %q). NMAP_OPTS
# alone is split on blanks.
q() {
    local w out=()
    for w; do
        if [[ $w =~ ^[A-Za-z0-9_./,:=@%+-]+$ ]]; then out+=("$w"); else out+=("$(printf '%q' "$w")"); fi
    done
    printf '%s' "${out[*]}"
}
read -r -a NMAP_ARGS <<<"$NMAP_OPTS"
declare -A CMD=()
CMD[c]=$(q "$CLOOP" "$NET.0.0" "$PORTS" "$C_INFLIGHT" "$TIMEOUT_MS")
CMD[nmap]=$(q nmap -n -Pn -sT -p "$PORTS" "${NMAP_ARGS[@]}" "$TARGET" -oG -)
medsurface_cmd() { # TARGET PORTS
    q "$MEDSURFACE" scan "$1" --ports "$2" --rate 10000000 --concurrency "$CONCURRENCY" \
        --seed "$SEED" --json --db "$OUT/bench.db"
}
[[ -n $MEDSURFACE ]] && CMD[medsurface]=$(medsurface_cmd "$TARGET" "$PORTS")
[[ -n $RUSTSCAN ]] && CMD[rustscan]=$(q "$RUSTSCAN" --no-config -g -a "$TARGET" -p "$PORTS" \
    -b "$CONCURRENCY" -t "$TIMEOUT_MS" --ulimit "$(ulimit -n)")

ACTIVE=()
for t in "${TOOL_LIST[@]}"; do
    [[ -n ${CMD[$t]:-} ]] && ACTIVE+=("$t")
done
((${#ACTIVE[@]})) || die "no tool left to run"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$OUT/runs/$STAMP
mkdir -p "$RUN_DIR"
: >"$RUN_DIR/manifest.tsv"
: >"$RUN_DIR/commands.tsv"
META=$RUN_DIR/meta.tsv
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
: >"$META"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta target "$TARGET"
meta ports "$PORTS"
meta seed "$SEED"
meta runs "$RUNS"
meta concurrency "$CONCURRENCY"
meta machine "$(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta nmap_version "$(nmap --version | head -1)"
meta nmap_options "$NMAP_OPTS (chosen as nmap's best on loopback; see bench/README.md)"
meta c_loop "gcc $(gcc -dumpfullversion) -O2, $C_INFLIGHT in flight, timeout $TIMEOUT_MS ms"
meta medsurface_commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n $MEDSURFACE ]] && meta medsurface_binary "$MEDSURFACE (built $(date -u -r "$MEDSURFACE" '+%Y-%m-%d %H:%M UTC'))"
[[ -n $RUSTSCAN ]] && meta rustscan_version "$("$RUSTSCAN" --version 2>/dev/null | head -1)"
meta tool_order "rotated by one each round, so no tool always runs first"
# Commands are recorded with paths relative to the repository root, as one would type them.
record_cmd() { printf '%s\t%s\n' "$1" "${2//$ROOT\//}" >>"$RUN_DIR/commands.tsv"; }
for t in "${ACTIVE[@]}"; do record_cmd "$t" "${CMD[$t]}"; done
for t in "${!SKIP[@]}"; do meta "note_skip_$t" "$t was asked for but not run: ${SKIP[$t]}."; done

# --- 3. The listeners: ground truth ----------------------------------------------------------
LISTENER_PID=
cleanup() {
    if [[ -n $LISTENER_PID ]]; then
        kill "$LISTENER_PID" 2>/dev/null || true
        wait "$LISTENER_PID" 2>/dev/null || true
        LISTENER_PID=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TRUTH=$RUN_DIR/truth.txt
"$PYTHON" "$HERE/listeners.py" --net "$NET" --ports "$PORTS" --count "$LISTENERS" --seed "$SEED" \
    --out "$TRUTH" 2>"$RUN_DIR/listeners.log" &
LISTENER_PID=$!
for ((i = 0; i < 300; i++)); do
    [[ -s $TRUTH ]] && break
    if ! kill -0 "$LISTENER_PID" 2>/dev/null; then
        cat "$RUN_DIR/listeners.log" >&2
        LISTENER_PID=
        die "the listeners did not start"
    fi
    sleep 0.05
done
[[ -s $TRUTH ]] || die "the listeners wrote no ground truth within 15 s"
say "$(wc -l <"$TRUTH") listeners up in $TARGET; results in $RUN_DIR"

# --- 4. The rounds ---------------------------------------------------------------------------
# run_one SECTION ROUND NAME PROBES PORTS COMMAND...
run_one() {
    local section=$1 round=$2 name=$3 probes=$4 ports=$5
    shift 5
    local base="$section-r$round-${name//[@\/]/_}" status=0
    [[ $name == medsurface* ]] && rm -f "$OUT/bench.db" "$OUT/bench.db-wal" "$OUT/bench.db-shm"
    /usr/bin/time -v -o "$RUN_DIR/$base.time" timeout -k 10 "$TOOL_TIMEOUT" "$@" \
        >"$RUN_DIR/$base.out" 2>"$RUN_DIR/$base.err" </dev/null || status=$?
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$round" "$name" "$status" \
        "$base.out" "$base.time" "$probes" "$ports" >>"$RUN_DIR/manifest.tsv"
    local wall
    wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$RUN_DIR/$base.time")
    say "round $round: $name exit $status, wall ${wall:-?}"
    if ((status != 0)); then
        say "$name failed (exit $status; 124 is the ${TOOL_TIMEOUT}s timeout); the end of its stderr:"
        tail -n 5 "$RUN_DIR/$base.err" | sed 's/^/    /' >&2
    fi
}

n=${#ACTIVE[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((k = 0; k < n; k++)); do
        t=${ACTIVE[$(((k + r - 1) % n))]}
        eval "argv=(${CMD[$t]})"
        run_one main "$r" "$t" "$PROBES" "$PORTS" "${argv[@]}"
    done
done

# --- 5. Optional: memory against the size of the target space --------------------------------
if ((SCALING)); then
    if [[ -z $MEDSURFACE ]]; then
        say "scaling: skipped, medsurface is not available"
    else
        port1=${PORTS%%,*}
        meta scaling_16 "$TARGET"
        meta scaling_12 "$TARGET12"
        for spec in "16 $TARGET 65536" "12 $TARGET12 1048576"; do
            read -r bits target probes <<<"$spec"
            cmd=$(medsurface_cmd "$target" "$port1")
            record_cmd "medsurface@$bits" "$cmd"
            eval "argv=($cmd)"
            run_one scaling 1 "medsurface@$bits" "$probes" "$port1" "${argv[@]}"
        done
    fi
fi

cleanup
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. The figures --------------------------------------------------------------------------
RESULTS=$OUT/results-$STAMP.md
"$PYTHON" "$HERE/report.py" --dir "$RUN_DIR" --out "$RESULTS"
say "full report: $RESULTS"
