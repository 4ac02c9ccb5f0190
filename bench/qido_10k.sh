#!/usr/bin/env bash
# QIDO-RS study search on an index of N studies (issue 16: "QIDO study search p50 on an index of 10k
# studies"), medvault against Orthanc's DICOMweb plugin, in one run, on the same files and the same
# queries. bench/qido_data.py writes N single-instance studies (~1 KB each; distinct PatientID and
# AccessionNumber, StudyDate over five years, eight modalities) and Q queries of each class:
# PatientID, AccessionNumber, a one-month StudyDate range, ModalitiesInStudy with limit=50, all
# studies with limit=100. medvault ingests them with load_gen (gRPC, 8 in flight), Orthanc with
# storescu (4 associations); then bench/qido_query.py asks GET /studies?... one query at a time
# over one keep-alive connection (medvault: HTTPS with the cluster's client certificate; Orthanc:
# plain HTTP), checks every answer's study count, and prints p50/p99 per class and a markdown table
# with medvault/Orthanc ratios. Inside a private network namespace (loopback only).
#
#   bench/qido_10k.sh [--studies 10000] [--queries 200] [--no-orthanc] [--out FILE]
#
# Needs root (unshare -n), storescu (dcmtk), Orthanc with orthanc-dicomweb, and binaries (with
# load_gen) in MEDVAULT_BIN_DIR (default build/bin). Scratch space: MEDVAULT_BENCH_TMP (default
# build/). Not part of the test run.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
PY=/usr/bin/python3
STUDIES=10000
QUERIES=200
ORTHANC=1
OUT="$ROOT/build/bench-qido.md"
MV_PORT_BASE="${MEDVAULT_PORT_BASE:-37900}"
ORTHANC_HTTP=38243 ORTHANC_DICOM=38313
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --studies) STUDIES="$2"; shift 2 ;;
    --queries) QUERIES="$2"; shift 2 ;;
    --no-orthanc) ORTHANC=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_require_binaries load_gen
bench_side_by_side_begin qido "${ARGS[@]}"

log "generating $STUDIES studies and $QUERIES queries per class in $WORK"
t0=$(date +%s.%N)
$PY "$ROOT/bench/qido_data.py" "$WORK/data" --studies "$STUDIES" --queries "$QUERIES"
log "generated in $(echo "$(date +%s.%N) - $t0" | bc) s"

# ingest_row LABEL SECONDS: the ingest time as a JSON line.
ingest_row() {
  printf '{"label": "%s", "class": "ingest", "studies": %d, "seconds": %.2f}\n' "$1" "$STUDIES" "$2" | tee -a "$JSON"
}

log "medvault cluster on port base $MV_PORT_BASE; load averages: $(cut -d' ' -f1-3 /proc/loadavg)"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
  >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
TLS="$CLUSTER/tls"
t0=$(date +%s.%N)
"$BIN/load_gen" --frontend="127.0.0.1:$MV_PORT_BASE" --tls_dir="$TLS" --mode=put --concurrency=8 \
  --inputs="$WORK/data/files" --label=medvault_ingest >"$WORK/load_gen.log" 2>&1 ||
  { tail -20 "$WORK/load_gen.log" >&2; exit 1; }
ingest_row medvault "$(echo "$(date +%s.%N) - $t0" | bc)"
log "querying medvault; load averages: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY "$ROOT/bench/qido_query.py" --label medvault --queries "$WORK/data/queries.tsv" \
  --url "https://127.0.0.1:$((MV_PORT_BASE + 5))/dicomweb" \
  --cacert "$TLS/ca.crt" --cert "$TLS/client.crt" --key "$TLS/client.key" --json_out "$JSON"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null

if [ "$ORTHANC" = 1 ] && [ "$HAVE_ORTHANC" = 1 ] && [ -n "$DICOMWEB_SO" ]; then
  log "Orthanc with its DICOMweb plugin; load averages: $(cut -d' ' -f1-3 /proc/loadavg)"
  orthanc_up
  t0=$(date +%s.%N)
  find "$WORK/data/files" -type f | sort | split -n r/4 - "$WORK/part."
  pids=() rc=0
  for part in "$WORK"/part.*; do
    xargs -a "$part" storescu -aec ORTHANC 127.0.0.1 "$ORTHANC_DICOM" 2>>"$WORK/storescu.log" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { echo "bench/qido_10k.sh: storescu failed" >&2; tail -5 "$WORK/storescu.log" >&2; exit 1; }
  ingest_row orthanc "$(echo "$(date +%s.%N) - $t0" | bc)"
  log "querying Orthanc; load averages: $(cut -d' ' -f1-3 /proc/loadavg)"
  $PY "$ROOT/bench/qido_query.py" --label orthanc --queries "$WORK/data/queries.tsv" \
    --url "http://127.0.0.1:$ORTHANC_HTTP/dicom-web" --json_out "$JSON"
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$STUDIES" "$QUERIES" >"$OUT" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
get = lambda label, cls: next((r for r in rows if r["label"] == label and r["class"] == cls), None)
print("| QIDO-RS /studies, %s studies, %s queries per class | medvault p50 / p99 (ms) | Orthanc p50 / p99 (ms) | medvault / Orthanc (p50 time) |" % (sys.argv[2], sys.argv[3]))
print("|---|---|---|---|")
for cls in ["patient", "accession", "date_month", "modality_limit50", "all_limit100"]:
    m, o = get("medvault", cls), get("orthanc", cls)
    cell = lambda r: "%.1f / %.1f%s" % (r["p50_ms"], r["p99_ms"], " (%d wrong counts)" % r["wrong_counts"] if r["wrong_counts"] else "") if r else "-"
    ratio = "%.2f" % (m["p50_ms"] / o["p50_ms"]) if m and o else "-"
    print("| %s | %s | %s | %s |" % (cls, cell(m), cell(o), ratio))
m, o = get("medvault", "ingest"), get("orthanc", "ingest")
print("| ingest (s, not a goal: load_gen 8 in flight / storescu 4 associations) | %s | %s | |" % (
    "%.1f" % m["seconds"] if m else "-", "%.1f" % o["seconds"] if o else "-"))
PYEOF
cat "$OUT"
