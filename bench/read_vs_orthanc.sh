#!/usr/bin/env bash
# Single-instance reads of medvault and Orthanc in one run, on the same slices, inside a private
# network namespace (loopback only): bench/ab_get.sh's read A/B of two binary directories (GetInstance
# at 1, 4 and 16 clients, C++ load_gen over mutual TLS), then Orthanc (bench/lib.sh's
# configuration) loaded with the same CT slices and read through /instances/{id}/file the same
# number of times at 1, 4 and 16 clients (bench/http_load.py: Python, so Orthanc's figures are a
# floor), again by curl (bench/curl_reads.sh), and by curl over HTTPS through nginx (bench/lib.sh's
# orthanc_tls_up; skipped without nginx-light). Prints one line per measurement; JSON lines in build/ab-get.jsonl ("A-get1", ...,
# "orthanc-get1", ..., "orthanc-https-get1", ...).
#
#   bench/read_vs_orthanc.sh BIN_DIR_A BIN_DIR_B [--rounds N] [--slices N] [--count N]
#
# Needs root (unshare -n) and Orthanc (scripts/install-deps).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
ARGS=("$@")
COUNT=600
for ((i = 2; i + 1 < $#; i++)); do
  [ "${ARGS[$i]}" = --count ] && COUNT="${ARGS[$((i + 1))]}"
done
source "$ROOT/bench/lib.sh"
bench_enter_netns "${ARGS[@]}"
"$ROOT/bench/ab_get.sh" "${ARGS[@]}"

[ "$HAVE_ORTHANC" = 1 ] || exit 0
ORTHANC_HTTP=38144 ORTHANC_DICOM=38214 ORTHANC_PID=""
ORTHANC_DIR="$(mktemp -d "${MEDVAULT_BENCH_TMP:-$ROOT/build}/bench-orthanc-get.XXXXXX")"
trap 'orthanc_down; rm -rf "$ORTHANC_DIR"' EXIT
orthanc_up
URL="http://127.0.0.1:$ORTHANC_HTTP"
JSON="$ROOT/build/ab-get.jsonl"
hl() { /usr/bin/python3 "$ROOT/bench/http_load.py" "$@"; }
hl put "$URL" --inputs="${MEDVAULT_BENCH_TMP:-$ROOT/build}/ab-get/ct" --concurrency=4 \
  --ids-out="$ORTHANC_DIR/ids" >/dev/null
# The same number of reads as each medvault figure: the slices over and over.
: >"$ORTHANC_DIR/reads"
while [ "$(wc -l <"$ORTHANC_DIR/reads")" -lt "$COUNT" ]; do cat "$ORTHANC_DIR/ids" >>"$ORTHANC_DIR/reads"; done
head -n "$COUNT" "$ORTHANC_DIR/reads" >"$ORTHANC_DIR/reads.n"
hl get "$URL" --ids="$ORTHANC_DIR/ids" --concurrency=1 --kind=file >/dev/null  # warm
for c in 1 4 16; do
  line=$(hl get "$URL" --ids="$ORTHANC_DIR/reads.n" --concurrency="$c" --kind=file \
    --label="orthanc-get$c" --json-out="$JSON")
  echo "orthanc concurrency $c: $line"
done
# The same reads by curl (a C client, as load_gen is), then over HTTPS (nginx in front:
# bench/lib.sh), as medvault's reads always are, by curl.
cr() { "$ROOT/bench/curl_reads.sh" "$@"; }
for c in 1 4 16; do
  echo "orthanc by curl concurrency $c: $(cr "$URL" "$ORTHANC_DIR/reads.n" "$c" "orthanc-curl-get$c" "$JSON")"
done
ORTHANC_TLS_PORT=38145
if orthanc_tls_up; then
  TLS_URL="https://127.0.0.1:$ORTHANC_TLS_PORT"
  cr "$TLS_URL" "$ORTHANC_DIR/ids" 1 warm >/dev/null
  for c in 1 4 16; do
    echo "orthanc over https by curl concurrency $c: $(cr "$TLS_URL" "$ORTHANC_DIR/reads.n" "$c" "orthanc-https-get$c" "$JSON")"
  done
fi
