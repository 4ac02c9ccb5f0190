#!/usr/bin/env bash
# Read A/B: single-instance GetInstance latency and rate on the binaries of two builds,
# alternating, so a change to the read path is measured as a ratio in one run on this noisy machine.
#
#   bench/ab_get.sh BIN_DIR_A BIN_DIR_B [--rounds N] [--slices N] [--count N]
#
# N CT slices (default 100) are generated once. Each variant gets a fresh cluster (scripts/cluster
# up with its binaries: 3 key service and 3 metaserver replicas, 3 chunk servers), is loaded at
# concurrency 4, warmed with 100 reads, then read COUNT times (default 600) at concurrency 1, 4
# and 16 by this tree's load_gen. Build an older commit's binaries as bench/ab_ingest.sh says.
# Prints one line per variant and concurrency; JSON lines in build/ab-get.jsonl ("A-get1", ...).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# A BIN_DIR may carry its own `cluster` (e.g. `exec /tmp/base/scripts/cluster "$@"`): binaries
# older than a flag this tree's scripts/cluster passes are started by their own commit's script.
cluster_script() { if [ -x "$1/cluster" ]; then echo "$1/cluster"; else echo "$ROOT/scripts/cluster"; fi; }
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
A="$1" B="$2"; shift 2
ROUNDS=2 SLICES=100 COUNT=600
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --slices) SLICES="$2"; shift 2 ;;
    --count) COUNT="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
TOOLS="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
WORK="${MEDVAULT_BENCH_TMP:-$ROOT/build}/ab-get"
OUT="$ROOT/build/ab-get.jsonl"
export MEDVAULT_PORT_BASE="${MEDVAULT_PORT_BASE:-38200}"
FRONTEND="127.0.0.1:$MEDVAULT_PORT_BASE"
rm -rf "$WORK"; mkdir -p "$WORK"; : > "$OUT"
/usr/bin/python3 "$ROOT/bench/gen_dicom.py" ct "$WORK/ct" --slices "$SLICES" >/dev/null
sync
running=""
trap '[ -z "$running" ] || MEDVAULT_BIN_DIR="${running%%:*}" "$(cluster_script "${running%%:*}")" down --data "${running#*:}" >/dev/null 2>&1' EXIT
for r in $(seq "$ROUNDS"); do
  for v in "A:$A" "B:$B"; do
    name="${v%%:*}" bin="${v#*:}" data="$WORK/cluster-$name"
    rm -rf "$data"
    running="$bin:$data"
    MEDVAULT_BIN_DIR="$bin" "$(cluster_script "$bin")" up --data "$data" --no-samples >"$WORK/up.log" 2>&1 ||
      { cat "$WORK/up.log" >&2; exit 1; }
    lg() { "$TOOLS/load_gen" --frontend="$FRONTEND" --tls_dir="$data/tls" "$@"; }
    lg --inputs="$WORK/ct" --uids_out="$WORK/uids.txt" --concurrency=4 >/dev/null 2>&1
    lg --mode=get --uids="$WORK/uids.txt" --concurrency=1 --count=100 >/dev/null 2>&1
    stages() { /usr/bin/python3 "$ROOT/bench/get_stages.py" \
      "http://127.0.0.1:$((MEDVAULT_PORT_BASE + 2000))/metrics" "$WORK/stages.json"; }
    rm -f "$WORK/stages.json"; stages
    for c in 1 4 16; do
      line=$(lg --mode=get --uids="$WORK/uids.txt" --concurrency="$c" --count="$COUNT" \
        --json_out="$OUT" --label="$name-get$c" 2>&1 | grep "^$name-get$c: ")
      echo "round $r $name concurrency $c: ${line#*: }"
      echo "round $r $name concurrency $c: $(stages)"
    done
    MEDVAULT_BIN_DIR="$bin" "$(cluster_script "$bin")" down --data "$data" >/dev/null 2>&1
    running=""
    rm -rf "$data"
  done
done
