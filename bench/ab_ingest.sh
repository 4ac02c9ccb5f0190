#!/usr/bin/env bash
# Ingest A/B: the same workload on the binaries of two builds, alternating, each round with its own
# 3x fsync bound, so an optimisation is measured as a ratio in one run on this noisy machine.
#
#   bench/ab_ingest.sh BIN_DIR_A BIN_DIR_B [--rounds N] [--slices N] [--mg N] [--tomo]
#
# The inputs are generated once, before the first round, and flushed to disk (writeback of fresh
# inputs would otherwise compete with the puts): CT slices (concurrency 4 and 16), N 50 MB objects
# (default 6, concurrency 1), with --tomo one 1 GB object. Each variant gets a fresh cluster
# (scripts/cluster up with that variant's binaries), measured by this tree's load_gen; the bounds,
# taken at the start of each variant, by this tree's fsync_bound. Build an older commit's binaries with e.g.
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -G Ninja \
#     -DMEDVAULT_COMPONENTS="keyservice;chunkserver;metaserver;frontend;cli;bench" && cmake --build /tmp/base/build
# Results: one JSON line per figure in build/ab-ingest.jsonl (labels "A-put16", "B-bound4", ...).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# A BIN_DIR may carry its own `cluster` (e.g. `exec /tmp/base/scripts/cluster "$@"`): binaries
# older than a flag this tree's scripts/cluster passes are started by their own commit's script.
cluster_script() { if [ -x "$1/cluster" ]; then echo "$1/cluster"; else echo "$ROOT/scripts/cluster"; fi; }
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
A="$1" B="$2"; shift 2
ROUNDS=2 SLICES=300 MG=6 TOMO=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --slices) SLICES="$2"; shift 2 ;;
    --mg) MG="$2"; shift 2 ;;
    --tomo) TOMO=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
TOOLS="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
WORK="${MEDVAULT_BENCH_TMP:-$ROOT/build}/ab-ingest"
OUT="$ROOT/build/ab-ingest.jsonl"
export MEDVAULT_PORT_BASE="${MEDVAULT_PORT_BASE:-38100}"
FRONTEND="127.0.0.1:$MEDVAULT_PORT_BASE"
rm -rf "$WORK"; mkdir -p "$WORK"; : > "$OUT"
for c in 4 16; do /usr/bin/python3 "$ROOT/bench/gen_dicom.py" ct "$WORK/ct$c" --slices "$SLICES" >/dev/null; done
/usr/bin/python3 "$ROOT/bench/gen_dicom.py" mg "$WORK/mg" --count "$MG" >/dev/null
[ "$TOMO" = 1 ] && /usr/bin/python3 "$ROOT/bench/gen_dicom.py" tomo "$WORK/tomo" >/dev/null
sync
for r in $(seq "$ROUNDS"); do
  for v in "A:$A" "B:$B"; do
    name="${v%%:*}" bin="${v#*:}"
    rm -rf "$WORK/data" "$WORK/fs"; mkdir -p "$WORK/fs"
    MEDVAULT_BIN_DIR="$bin" "$(cluster_script "$bin")" up --data "$WORK/data" --no-samples >"$WORK/up.log" 2>&1 ||
      { tail -5 "$WORK/up.log" >&2; exit 1; }
    bound() { "$TOOLS/fsync_bound" --dir="$WORK/fs" --json_out="$OUT" "$@" | tail -1; }
    bound --inputs="$WORK/ct4" --concurrency=4 --label="$name-bound4"
    bound --inputs="$WORK/ct4" --concurrency=16 --label="$name-bound16"
    bound --inputs="$WORK/mg" --concurrency=1 --label="$name-boundmg"
    [ "$TOMO" = 1 ] && bound --inputs="$WORK/tomo" --concurrency=1 --label="$name-boundtomo"
    # Each put also reports what it cost in CPU (bench/cpu_account.py: machine idle, CPU-seconds per
    # service and of the client), as "<label>-cpu" lines.
    put() {
      local label="${*: -1}"; label="${label#--label=}"
      /usr/bin/python3 "$ROOT/bench/cpu_account.py" --label="$label" --match="$WORK/data" --json_out="$OUT" -- \
        "$TOOLS/load_gen" --frontend="$FRONTEND" --tls_dir="$WORK/data/tls" --json_out="$OUT" "$@" | tail -2
    }
    put --inputs="$WORK/mg" --concurrency=1 --label="$name-putmg"
    [ "$TOMO" = 1 ] && put --inputs="$WORK/tomo" --concurrency=1 --label="$name-puttomo"
    for c in 4 16; do put --inputs="$WORK/ct$c" --concurrency=$c --label="$name-put$c"; done
    MEDVAULT_BIN_DIR="$bin" "$(cluster_script "$bin")" down --data "$WORK/data" >/dev/null 2>&1
  done
done
rm -rf "$WORK"
echo "results: $OUT"
