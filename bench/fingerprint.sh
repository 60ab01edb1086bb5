#!/usr/bin/env bash
# Fingerprint benchmark (issue 4, "Benchmark"): identify the lab's services with medsurface and
# with nmap -sV, side by side, in the same run, R interleaved rounds.
#
# The services: the simulated ones of `medsurface lab` (Orthanc-like and OpenEMR-like web pages,
# a MySQL greeting, an HL7 listener, an open and a strict DICOM server), each on its own address
# 127.A.0.x and its usual port; and, unless --lab-only, the real test peers of scripts/peers
# (Orthanc web and DICOM, DCMTK dcmqrscp and storescp, pynetdicom, node-fhir-server-core,
# openssl s_server, python-hl7, hl7apy, PostgreSQL, Redis, MariaDB, synthetic MongoDB and
# Elasticsearch). The peers listen on 127.0.0.1 at free high ports; a relay
# (bench/fingerprint.py forward) puts each on its own address 127.A.{1,2,3}.x and its usual
# port, so that both tools meet every service where it would be in the field.
#
# Both tools get the same address list and the same port list (every port on every address:
# the closed ones cost a refused connect each, to both). The report (bench/fingerprint.py
# report) gives, per service, what each tool identified (nmap: service / product / version;
# medsurface: protocol / category / vendor product version and the signature), and per tool
# the counts, the median wall time and the peak RSS (/usr/bin/time -v).
#
# Traffic goes to 127.0.0.0/8 only: every address is built below from --octet.
#
# Usage: bench/fingerprint.sh [options]
#   --runs R        rounds of both tools, interleaved, order rotated (default 3)
#   --octet A       services live at 127.A.x.y (default 93)
#   --tools LIST    any of medsurface,nmap (default both)
#   --lab-only      only the simulated services, not the real peers of scripts/peers
#   --no-build      never run cargo build; fail if the medsurface binary is missing
#   --no-install    never call apt-get; fail if a tool is missing
#   -h, --help      this text
# Environment: MEDSURFACE_BIN (default target/release/medsurface, built when missing unless
#   --no-build), MEDSURFACE_OPTS (extra scan options, default none), NMAP_OPTS (extra nmap
#   options, default none), BENCH_TOOL_TIMEOUT (seconds per tool run, default 900).
# The real peers need scripts/install-test-deps to have run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out

RUNS=3
OCTET=93
TOOLS=medsurface,nmap
PEERS=1
BUILD=1
INSTALL=1
MEDSURFACE_OPTS=${MEDSURFACE_OPTS:-}
NMAP_OPTS=${NMAP_OPTS:-}
TOOL_TIMEOUT=${BENCH_TOOL_TIMEOUT:-900}

BENCH_NAME=fingerprint
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

while (($#)); do
    case $1 in
        --runs) RUNS=${2:?}; shift 2 ;;
        --octet) OCTET=${2:?}; shift 2 ;;
        --tools) TOOLS=${2:?}; shift 2 ;;
        --lab-only) PEERS=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --no-install) INSTALL=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage; die "unknown option: $1" ;;
    esac
done
is_uint "$RUNS" && ((RUNS >= 1)) || die "--runs must be a positive integer, got '$RUNS'"
is_uint "$OCTET" && ((OCTET <= 255)) || die "--octet must be in 0..255, got '$OCTET'"
declare -A WANT=()
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
    case $t in
        medsurface|nmap) WANT[$t]=1 ;;
        *) die "unknown tool '$t' (known: medsurface,nmap)" ;;
    esac
done

# --- 1. What the bench needs, installed only when missing ------------------------------------
missing=()
command -v nmap >/dev/null || missing+=(nmap)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
command -v timeout >/dev/null || missing+=(coreutils)
install_missing "${missing[@]}"

# The lab is medsurface itself, so the binary is needed even with --tools nmap.
need_lab_binary

PYTHON=$(python3 -c 'import sys; print(sys.executable)')
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=$OUT/fingerprint-runs/$STAMP
mkdir -p "$RUN_DIR"

# --- 2. The services: the only addresses of this script ---------------------------------------
# services.tsv: NAME, SOURCE (lab|peer), ADDRESS, PORT, what it really is (the truth), and
# the product a tool should name, as a case-insensitive regex ("-" when nothing on the wire can
# name one: the lab's own HL7 and DICOM servers, a library's HL7 listener). For a lab service
# that is the product it imitates; for a synthetic peer the product whose protocol it speaks.
SERVICES=$RUN_DIR/services.tsv
LAB=$RUN_DIR/lab.txt  # KIND@ADDR:PORT, the lab's input
: >"$SERVICES"
: >"$LAB"
lab_service() { # NAME KIND HOST PORT TRUTH PRODUCT
    printf '%s@127.%s.0.%s:%s\n' "$2" "$OCTET" "$3" "$4" >>"$LAB"
    printf '%s\tlab\t127.%s.0.%s\t%s\t%s\t%s\n' "$1" "$OCTET" "$3" "$4" "$5" "$6" >>"$SERVICES"
}
lab_service lab-orthanc-web http-orthanc 1 8042 "HTTP page like Orthanc Explorer" orthanc
lab_service lab-openemr http-openemr 2 8080 "HTTP page like an OpenEMR login" openemr
lab_service lab-mysql mysql 3 3306 "MySQL 8.0.36 protocol-10 greeting" mysql
lab_service lab-hl7 hl7 4 2575 "HL7 v2 MLLP listener (ACK AA)" -
lab_service lab-dicom-open dicom-open 5 11112 "DICOM SCP, any AE title" -
lab_service lab-dicom-strict dicom-strict 6 4242 "DICOM SCP, checks the called AE title" -

# --- 3. Everything started here is stopped on exit --------------------------------------------
LAB_PID=
RELAY_PID=
PEER_STATES=()
cleanup() {
    for pid in $LAB_PID $RELAY_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    LAB_PID=
    RELAY_PID=
    for entry in "${PEER_STATES[@]}"; do
        "${entry%%=*}" "${entry#*=}" >/dev/null 2>&1 || say "stopping ${entry%%=*} failed"
    done
    PEER_STATES=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded: 60 s) until FILE has the line `serving N`, while PID lives.
wait_serving() { # FILE N PID WHAT
    for ((i = 0; i < 1200; i++)); do
        grep -qx "serving $2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || die "$4 did not start (see $1 and its .err)"
        sleep 0.05
    done
    die "$4 was not serving within 60 s"
}

"$MEDSURFACE" lab "@$LAB" >"$RUN_DIR/lab.out" 2>"$RUN_DIR/lab.err" &
LAB_PID=$!
wait_serving "$RUN_DIR/lab.out" "$(wc -l <"$LAB")" "$LAB_PID" "the lab"

if ((PEERS)); then
    # The peers' own start scripts poll readiness; each writes its ports to a JSON file.
    for kind in dicom web apps; do
        case $kind in
            dicom) dir=$ROOT/scripts/peers ;;
            *) dir=$ROOT/scripts/peers/$kind ;;
        esac
        state=$RUN_DIR/peers-$kind
        PEER_STATES+=("$dir/stop=$state")
        say "starting the $kind peers ($dir/start)"
        "$dir/start" "$state" >"$RUN_DIR/peers-$kind.out" 2>"$RUN_DIR/peers-$kind.err" ||
            die "$dir/start failed (run scripts/install-test-deps first); see $RUN_DIR/peers-$kind.err"
    done
    # Each peer on its own address and usual port, through the relay.
    "$PYTHON" - "$RUN_DIR" "$OCTET" >>"$SERVICES" <<'EOF'
import json, re, subprocess, sys
from pathlib import Path
run, octet = Path(sys.argv[1]), sys.argv[2]
def load(kind, name):
    return json.loads((run / f"peers-{kind}" / name).read_text())
dicom, web, apps = load("dicom", "peers.json"), load("web", "web-peers.json"), load("apps", "apps.json")
def version(cmd, pattern):
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "?"
orthanc = version(["Orthanc", "--version"], r"Orthanc (\S+)")
dcmtk = version(["dcmqrscp", "--version"], r"v(\d[\d.]*)")
v = apps.get("versions", {})
table = [  # (json, peer, third octet, host, port, truth, product regex)
    (web, "orthanc-web-open", 1, 1, 8042, f"Orthanc {orthanc} web UI and DICOMweb, open", "orthanc"),
    (web, "orthanc-web-locked", 1, 2, 8042, f"Orthanc {orthanc} behind HTTP Basic", "orthanc"),
    (web, "fhir-open", 1, 3, 8080, "node-fhir-server-core FHIR R4, open", "node-fhir-server-core"),
    (web, "fhir-locked", 1, 4, 8080, "node-fhir-server-core FHIR R4, bearer auth, SMART", "node-fhir-server-core"),
    (web, "tls-modern", 1, 5, 443, "openssl s_server -www, TLS 1.3, self-signed cert with O=", "openssl"),
    (web, "tls-legacy", 1, 6, 443, "openssl s_server -www -tls1, TLS 1.0 only", "openssl"),
    (dicom, "orthanc-open", 2, 1, 4242, f"Orthanc {orthanc} DICOM, any AE title", "orthanc"),
    (dicom, "orthanc-strict", 2, 2, 4242, f"Orthanc {orthanc} DICOM, checks AE titles", "orthanc"),
    (dicom, "dcmqrscp", 2, 3, 11112, f"DCMTK {dcmtk} dcmqrscp, checks the called AE", "dcmtk"),
    (dicom, "storescp", 2, 4, 104, f"DCMTK {dcmtk} storescp", "dcmtk"),
    (dicom, "pynetdicom-open", 2, 5, 11112, "pynetdicom 3.0.4, any AE title", "pynetdicom"),
    (dicom, "pynetdicom-strict", 2, 6, 11112, "pynetdicom 3.0.4, checks AE titles", "pynetdicom"),
    (dicom, "pynetdicom-vendor", 2, 7, 104, "pynetdicom posing as Conquest 1.5.0 (UID, version name)", "conquest"),
    (dicom, "pynetdicom-leaky", 2, 8, 11112, "pynetdicom that ignores query keys", "pynetdicom"),
    (dicom, "pynetdicom-tls", 2, 9, 2762, "pynetdicom 3.0.4 inside TLS", "pynetdicom"),
    (apps, "python-hl7", 3, 1, 2575, "python-hl7 MLLP server (ACK AA)", "-"),
    (apps, "hl7apy", 3, 2, 2575, "hl7apy MLLP server (ACK AR)", "-"),
    (apps, "pg-trust-tls", 3, 3, 5432, f"PostgreSQL {v.get('postgresql', '?')}, trust, TLS offered", "postgres"),
    (apps, "pg-trust", 3, 4, 5432, f"PostgreSQL {v.get('postgresql', '?')}, trust", "postgres"),
    (apps, "pg-password", 3, 5, 5432, f"PostgreSQL {v.get('postgresql', '?')}, scram-sha-256", "postgres"),
    (apps, "redis-open", 3, 6, 6379, f"Redis {v.get('redis', '?')}, open", "redis"),
    (apps, "redis-auth", 3, 7, 6379, f"Redis {v.get('redis', '?')}, requirepass", "redis"),
    (apps, "mariadb", 3, 8, 3306, f"MariaDB {v.get('mariadb', '?')}", "mariadb"),
    (apps, "mongo-open", 3, 9, 27017, f"synthetic MongoDB {v.get('mongodb', '?')}, open", "mongo"),
    (apps, "mongo-auth", 3, 10, 27017, f"synthetic MongoDB {v.get('mongodb', '?')}, auth", "mongo"),
    (apps, "mongo-legacy", 3, 11, 27017, f"synthetic MongoDB {v.get('mongodb-legacy', '?')} (OP_QUERY only)", "mongo"),
    (apps, "es-open", 3, 12, 9200, f"synthetic Elasticsearch {v.get('elasticsearch', '?')}, open", "elasticsearch"),
    (apps, "es-auth", 3, 13, 9200, f"synthetic Elasticsearch {v.get('elasticsearch', '?')}, auth", "elasticsearch"),
]
with open(run / "relay.map", "w") as relay:
    for src, peer, third, host, port, truth, product in table:
        addr = f"127.{octet}.{third}.{host}"
        relay.write(f"{peer} {addr} {port} {src['peers'][peer]['port']}\n")
        # A peer that only speaks another product's protocol (or wears its identity) is
        # "synthetic": the report counts real software apart from it.
        source = "synthetic" if truth.startswith(("synthetic", "pynetdicom posing")) else "peer"
        print(f"{peer}\t{source}\t{addr}\t{port}\t{truth}\t{product}")
EOF
    "$PYTHON" "$HERE/fingerprint.py" forward --map "$RUN_DIR/relay.map" \
        >"$RUN_DIR/relay.out" 2>"$RUN_DIR/relay.err" &
    RELAY_PID=$!
    wait_serving "$RUN_DIR/relay.out" "$(wc -l <"$RUN_DIR/relay.map")" "$RELAY_PID" "the relay"
fi

ADDRS=$RUN_DIR/addresses.txt
cut -f3 "$SERVICES" | sort -u -t. -k1,1n -k2,2n -k3,3n -k4,4n >"$ADDRS"
PORTS=$(cut -f4 "$SERVICES" | sort -un | paste -sd, -)
say "$(wc -l <"$SERVICES") services on $(wc -l <"$ADDRS") addresses, ports $PORTS; results in $RUN_DIR"

# --- 4. The commands, each defined once -------------------------------------------------------
read -r -a MEDSURFACE_EXTRA <<<"$MEDSURFACE_OPTS"
read -r -a NMAP_EXTRA <<<"$NMAP_OPTS"
DB=$RUN_DIR/fingerprint.db
declare -A CMD=()
CMD[medsurface]="$(printf '%q ' "$MEDSURFACE" scan "@$ADDRS" --ports "$PORTS" --rate unlimited \
    "${MEDSURFACE_EXTRA[@]}" --json --db "$DB")"
CMD[nmap]="$(printf '%q ' nmap -n -Pn -sT -sV -p "$PORTS" "${NMAP_EXTRA[@]}" -iL "$ADDRS" -oX -)"

META=$RUN_DIR/meta.tsv
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
: >"$META"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta services "$(wc -l <"$SERVICES") ($(grep -c $'\tlab\t' "$SERVICES") simulated by medsurface lab, $(grep -c $'\tpeer\t' "$SERVICES") real and $(grep -c $'\tsynthetic\t' "$SERVICES") synthetic peers relayed) on $(wc -l <"$ADDRS") addresses × ports $PORTS"
meta runs "$RUNS"
meta machine "$(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
meta nmap_version "$(nmap --version | head -1)"
meta medsurface_binary "${MEDSURFACE#"$ROOT"/} (built $(date -u -r "$MEDSURFACE" '+%Y-%m-%d %H:%M UTC'))"
meta medsurface_commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
meta tool_order "rotated by one each round"
: >"$RUN_DIR/commands.tsv"
for t in "${TOOL_LIST[@]}"; do
    eval "argv=(${CMD[$t]})"
    shown="${argv[*]}"
    printf '%s\t%s\n' "$t" "${shown//$ROOT\//}" >>"$RUN_DIR/commands.tsv"
done

# --- 5. The rounds ---------------------------------------------------------------------------
: >"$RUN_DIR/manifest.tsv"
n=${#TOOL_LIST[@]}
for ((r = 1; r <= RUNS; r++)); do
    for ((k = 0; k < n; k++)); do
        t=${TOOL_LIST[$(((k + r - 1) % n))]}
        base="r$r-$t"
        [[ $t == medsurface ]] && rm -f "$DB" "$DB-wal" "$DB-shm"
        eval "argv=(${CMD[$t]})"
        status=0
        /usr/bin/time -v -o "$RUN_DIR/$base.time" timeout -k 10 "$TOOL_TIMEOUT" "${argv[@]}" \
            >"$RUN_DIR/$base.out" 2>"$RUN_DIR/$base.err" </dev/null || status=$?
        printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$status" "$base.out" "$base.time" \
            >>"$RUN_DIR/manifest.tsv"
        wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$RUN_DIR/$base.time")
        say "round $r: $t exit $status, wall ${wall:-?}"
        if ((status != 0)); then
            tail -n 5 "$RUN_DIR/$base.err" | sed 's/^/    /' >&2
        fi
    done
done

cleanup
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 6. The figures --------------------------------------------------------------------------
RESULTS=$OUT/fingerprint-$STAMP.md
"$PYTHON" "$HERE/fingerprint.py" report --dir "$RUN_DIR" --out "$RESULTS" >/dev/null
cp "$RESULTS" "$OUT/fingerprint.md"
say "report: $RESULTS (also $OUT/fingerprint.md)"
