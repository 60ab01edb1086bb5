# Sourced by the bench scripts (run.sh, dicom_fleet.sh, fingerprint.sh, import.sh): messages,
# option checks, installing what is missing, and the medsurface binary. Each script sets
# BENCH_NAME (the prefix of its messages) before sourcing this file.

say() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() { say "error: $*"; exit 2; }
# The script's own "# Usage:" header, up to `set -euo`.
usage() { sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Installs the Debian packages given, with one apt-get update; refuses under --no-install
# (INSTALL=0), without apt-get, or when neither root nor sudo.
install_missing() { # PACKAGE...
    (($#)) || return 0
    ((INSTALL)) || die "missing: $* (and --no-install was given)"
    command -v apt-get >/dev/null || die "missing: $*; install them (no apt-get here)"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing: $*; not root and no sudo"
        sudo=(sudo)
    fi
    say "installing $* (apt-get update once, then install)"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Sets MEDSURFACE to $MEDSURFACE_BIN or target/release/medsurface, building the latter when it
# is missing and BUILD=1. Does not check that it works; the callers do, each for what it needs.
medsurface_binary() {
    MEDSURFACE=${MEDSURFACE_BIN:-$ROOT/target/release/medsurface}
    if [[ ! -x $MEDSURFACE && -z ${MEDSURFACE_BIN:-} && $BUILD == 1 ]]; then
        say "$MEDSURFACE is missing; cargo build --release -p medsurface (several minutes)"
        (cd "$ROOT" && cargo build --release -p medsurface >&2) || say "the build failed"
    fi
}

# The lab benches serve their fleet with `medsurface lab`: the binary must have the DICOM kinds.
need_lab_binary() {
    medsurface_binary
    [[ -x $MEDSURFACE ]] || die "no medsurface binary at $MEDSURFACE"
    # Captured first: `| grep -q` would close the pipe early and, under pipefail, fail the check.
    local kinds
    kinds=$("$MEDSURFACE" lab --list 2>/dev/null || true)
    grep -q '^dicom-strict' <<<"$kinds" ||
        die "$MEDSURFACE has no dicom-open/dicom-strict lab kinds; rebuild it"
}
