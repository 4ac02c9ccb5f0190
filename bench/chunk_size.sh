#!/usr/bin/env bash
# Measures ingest throughput per frontend chunk size, in one run on one cluster, so the default
# (--chunk_size_bytes) is chosen by measurement. Reports MB/s and the ratio to the 1 MiB default.
#
#   bench/chunk_size.sh [--slices N] [--large-mb M] [--large-count K]
#
# Each chunk size gets its own frontend process against the same keyservice, metaserver and three
# chunkservers; each measurement stores fresh copies (new UIDs) of the same kind of data.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
SLICES=200; LARGE_MB=50; LARGE_COUNT=3
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --large-mb) LARGE_MB="$2"; shift 2 ;;
    --large-count) LARGE_COUNT="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
WORK="$(mktemp -d /tmp/medvault-bench-XXXXXX)"
export MEDVAULT_PORT_BASE=17600
trap '"$ROOT/scripts/cluster" down --data "$WORK/cluster" >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [ -z "${MEDVAULT_BIN_DIR:-}" ]; then "$ROOT/scripts/build" >/dev/null; fi
mkdir -p "$WORK/cluster"; touch "$WORK/cluster/.samples-loaded"
"$ROOT/scripts/cluster" up --data "$WORK/cluster" >/dev/null
# Everything over mutual TLS, as in the cluster: the extra frontends use the cluster's frontend
# certificate, the CLI its client certificate.
TLS="$WORK/cluster/tls"
export MEDVAULT_TLS_DIR="$TLS"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), disk $(df -h "$WORK" | awk 'NR==2 {print $1}')"
printf '%-12s %-22s %-22s\n' chunk "CT 0.5MB MB/s (ratio)" "large ${LARGE_MB}MB MB/s (ratio)"
declare -A ct large
port=17700
for size in 65536 262144 1048576 4194304; do
  port=$((port + 1))
  "$BIN/frontend" --listen=127.0.0.1:$port --metrics_listen= --metaserver=127.0.0.1:17610 \
    --keyservice=127.0.0.1:17620 --chunk_size_bytes=$size --tls_ca="$TLS/ca.crt" \
    --tls_cert="$TLS/frontend.crt" --tls_key="$TLS/frontend.key" >"$WORK/fe-$size.out" 2>"$WORK/fe-$size.log" &
  "$BIN/medvault" health 127.0.0.1:$port --wait 20 >/dev/null
  rm -rf "$WORK/ct" "$WORK/large"
  /usr/bin/python3 "$ROOT/bench/gen_dicom.py" ct "$WORK/ct" --slices "$SLICES"
  /usr/bin/python3 "$ROOT/bench/gen_dicom.py" large "$WORK/large" --mb "$LARGE_MB" --count "$LARGE_COUNT"
  sync
  ct_bytes=$(du -sb "$WORK/ct" | cut -f1); large_bytes=$(du -sb "$WORK/large" | cut -f1)
  t0=$(date +%s.%N)
  "$BIN/medvault" --frontend 127.0.0.1:$port put --quiet --jobs 4 "$WORK/ct" 2>/dev/null
  t1=$(date +%s.%N)
  "$BIN/medvault" --frontend 127.0.0.1:$port put --quiet --jobs 1 "$WORK/large" 2>/dev/null
  t2=$(date +%s.%N)
  ct[$size]=$(awk "BEGIN {print $ct_bytes / ($t1 - $t0) / 1000000}")
  large[$size]=$(awk "BEGIN {print $large_bytes / ($t2 - $t1) / 1000000}")
done
for size in 65536 262144 1048576 4194304; do
  printf '%-12s %6.1f (%4.2fx)          %6.1f (%4.2fx)\n' "$((size / 1024)) KiB" "${ct[$size]}" \
    "$(awk "BEGIN {print ${ct[$size]} / ${ct[1048576]}}")" "${large[$size]}" "$(awk "BEGIN {print ${large[$size]} / ${large[1048576]}}")"
done
