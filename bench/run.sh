#!/usr/bin/env bash
# End-to-end benchmark: `exaudit audit` against `tcpdump` reading the same capture.
#
#   bench/run.sh             1 GiB capture (generated into bench/data/ if missing)
#   bench/run.sh --big       also the 2 GiB capture (the memory test: peak RSS must not grow
#                            with the file)
#   bench/run.sh --runs 5    timed runs per tool (default 3; the median is reported)
#   bench/run.sh --file F    an existing capture instead of the generated ones (repeatable)
#
# Honours CARGO_TARGET_DIR. Needs tcpdump and GNU time; installs them with apt-get when missing.
# See bench/README.md for what is measured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/bench/data"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
EXAUDIT="$TARGET_DIR/release/exaudit"
BENCHGEN="$TARGET_DIR/release/examples/benchgen"
RUNS=3
BIG=0
FILES=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --big) BIG=1 ;;
        --runs) RUNS="$2"; shift ;;
        --file) FILES+=("$2"); shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "run.sh: $*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null; then
        log "$1 is missing and there is no apt-get; install it and run again"
        exit 2
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    log "installing $1"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

command -v tcpdump >/dev/null || apt_install tcpdump
[[ -x /usr/bin/time ]] || apt_install time
TCPDUMP="$(command -v tcpdump)"

log "building exaudit and benchgen (release) in $TARGET_DIR"
(cd "$ROOT" && cargo build --release --quiet --bin exaudit --example benchgen)

mkdir -p "$DATA"
generate() { # file target-bytes
    if [[ ! -s "$1" || ! -s "$1.info" ]]; then
        log "generating $1 ($2 bytes)"
        "$BENCHGEN" --out "$1" --seed 1 --target-bytes "$2" 2>"$1.genlog"
    fi
}
if [[ ${#FILES[@]} -eq 0 ]]; then
    generate "$DATA/bench-1g.pcap" 1073741824
    FILES+=("$DATA/bench-1g.pcap")
    if [[ $BIG -eq 1 ]]; then
        generate "$DATA/bench-2g.pcap" 2147483648
        FILES+=("$DATA/bench-2g.pcap")
    fi
fi

# One timed run: prints "wall_seconds cpu_seconds max_rss_kib exit_status".
timed() {
    local tv
    tv="$(mktemp)"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$tv" "$@" >/dev/null 2>&1 || rc=$?
    t1=$(date +%s%N)
    local user sys rss
    user=$(awk -F': ' '/User time/ {print $2}' "$tv")
    sys=$(awk -F': ' '/System time/ {print $2}' "$tv")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    rm -f "$tv"
    awk -v a="$t0" -v b="$t1" -v u="$user" -v s="$sys" -v r="$rss" -v c="$rc" \
        'BEGIN { printf "%.3f %.2f %d %d\n", (b - a) / 1e9, u + s, r, c }'
}

# Median of the first column, and the matching CPU time; the largest RSS of all runs.
summarise() { # label bytes packets runs-file
    sort -n -k1,1 "$4" | awk -v label="$1" -v bytes="$2" -v pkts="$3" -v n="$RUNS" '
        { wall[NR] = $1; cpu[NR] = $2; if ($3 > rss) rss = $3; if ($4 != 0) bad = 1 }
        END {
            m = int((NR + 1) / 2)
            printf "%-9s %9.2f %9.2f %9.2f %9.1f %11.0f %8.2f %9.1f%s\n", label, wall[m], \
                wall[1], wall[NR], bytes / 1e6 / wall[m], pkts / wall[m], cpu[m], rss / 1024, \
                (bad ? "  (non-zero exit status)" : "")
        }'
}

info_value() { # file key
    sed -n "s/^$2=//p" "$1.info" 2>/dev/null | head -n 1
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
GIT=(git --no-optional-locks -C "$ROOT")
echo "exaudit: $("$EXAUDIT" --version) ($("${GIT[@]}" rev-parse --short HEAD 2>/dev/null || echo unknown)$("${GIT[@]}" diff --quiet HEAD -- src 2>/dev/null || echo ', src modified since'))"
echo "tcpdump: $("$TCPDUMP" --version 2>&1 | head -n 1), $("$TCPDUMP" --version 2>&1 | sed -n 's/^libpcap version //p')"

for f in "${FILES[@]}"; do
    bytes=$(stat -c %s "$f")
    packets=$(info_value "$f" packets)
    flows=$(info_value "$f" flows)
    # Warm the page cache, and read exaudit's own counts from its summary line.
    cat "$f" >/dev/null
    summary=$("$EXAUDIT" audit --format jsonl "$f" | tail -n 1)
    ex_packets=$(sed -n 's/.*"packets":\([0-9]*\).*/\1/p' <<<"$summary" | head -n 1)
    ex_flows=$(sed -n 's/.*"flow_table":{"flows":\([0-9]*\).*/\1/p' <<<"$summary")
    packets=${packets:-$ex_packets}
    "$TCPDUMP" -n -r "$f" -w /dev/null 2>/dev/null
    echo
    echo "file:    $f"
    echo "         $bytes bytes, $packets packets, ${flows:-?} flows generated, exaudit counted ${ex_flows:-?} flows"
    ex_runs="$(mktemp)"
    td_runs="$(mktemp)"
    for _ in $(seq "$RUNS"); do
        # Alternate the tools so that neither gets a systematically warmer machine.
        timed "$EXAUDIT" audit --format jsonl -o /dev/null "$f" >>"$ex_runs"
        timed "$TCPDUMP" -n -r "$f" -w /dev/null >>"$td_runs"
    done
    echo
    printf "%-9s %9s %9s %9s %9s %11s %8s %9s\n" tool "wall s" "min s" "max s" "MB/s" "packets/s" "CPU s" "RSS MiB"
    summarise exaudit "$bytes" "$packets" "$ex_runs"
    summarise tcpdump "$bytes" "$packets" "$td_runs"
    echo "(median of $RUNS runs; MB = 10^6 bytes of file; CPU = user + system of the median run;"
    echo " RSS = the largest peak resident set size of the $RUNS runs)"
    rm -f "$ex_runs" "$td_runs"
done
