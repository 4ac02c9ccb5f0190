#!/usr/bin/env bash
# WADO-RS study metadata (issue 16: "study metadata of a 500-slice CT series in under 1 s") on
# medvault against Orthanc's DICOMweb plugin, in one run, on the same files: a 500-slice CT series
# (bench/gen_dicom.py) is stored in both with storescu (4 associations), then
# GET /studies/{study}/metadata is asked REPEAT times of each, one request at a time, with curl
# (medvault: HTTPS with the client certificate; Orthanc: plain HTTP), inside a private network
# namespace (loopback only). The first request of each is reported apart (Orthanc builds its
# answer from the files, then may cache). Prints one JSON line per system and a markdown table.
#
#   bench/wado_metadata.sh [--slices N] [--repeat R] [--out FILE]
#
# Needs root (unshare -n), storescu (dcmtk), Orthanc with orthanc-dicomweb, and binaries in
# MEDVAULT_BIN_DIR (default build/bin). Scratch space: MEDVAULT_BENCH_TMP (default build/).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
PY=/usr/bin/python3
SLICES=500
REPEAT=20
OUT="$ROOT/build/bench-wado-metadata.md"
MV_PORT_BASE="${MEDVAULT_PORT_BASE:-37800}"
ORTHANC_HTTP=38242 ORTHANC_DICOM=38312
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_side_by_side_begin wado-metadata "${ARGS[@]}"

log "generating a CT series of $SLICES slices in $WORK"
$PY "$ROOT/bench/gen_dicom.py" ct "$WORK/ct" --slices "$SLICES" >/dev/null
STUDY=$(bench_study_uid "$WORK/ct")

# measure LABEL URL CURL_ARGS...: REPEAT sequential GETs; checks each answer lists every slice.
measure() {
  local label="$1" url="$2"; shift 2
  local times="$WORK/$label.times"
  : >"$times"
  for _ in $(seq $((REPEAT + 1))); do
    curl -sS -f -o "$WORK/$label.json" -w '%{time_total}\n' -H 'Accept: application/dicom+json' "$@" "$url" >>"$times"
    n=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/$label.json")
    [ "$n" = "$SLICES" ] || { echo "bench/wado_metadata.sh: $label answered $n instances, not $SLICES" >&2; exit 1; }
  done
  $PY - "$label" "$times" "$(stat -c %s "$WORK/$label.json")" <<'PYEOF' | tee -a "$JSON"
import json, statistics, sys
t = [float(x) for x in open(sys.argv[2])]
rest = sorted(t[1:])
q = lambda p: rest[min(len(rest) - 1, int(p * len(rest)))]
print(json.dumps({"label": sys.argv[1], "first_s": t[0], "p50_s": statistics.median(rest),
                  "p90_s": q(0.9), "requests": len(rest), "answer_bytes": int(sys.argv[3])}))
PYEOF
}

log "medvault cluster on port base $MV_PORT_BASE"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
  >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
bench_store_dir "$WORK/ct" MEDVAULT $((MV_PORT_BASE + 4))
TLS="$CLUSTER/tls"
measure medvault "https://127.0.0.1:$((MV_PORT_BASE + 5))/dicomweb/studies/$STUDY/metadata" \
  --cacert "$TLS/ca.crt" --cert "$TLS/client.crt" --key "$TLS/client.key"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null

if [ "$HAVE_ORTHANC" = 1 ] && [ -n "$DICOMWEB_SO" ]; then
  log "Orthanc with its DICOMweb plugin"
  orthanc_up
  bench_store_dir "$WORK/ct" ORTHANC "$ORTHANC_DICOM"
  measure orthanc "http://127.0.0.1:$ORTHANC_HTTP/dicom-web/studies/$STUDY/metadata"
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$SLICES" "$REPEAT" >"$OUT" <<'PYEOF'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
m, o = rows.get("medvault"), rows.get("orthanc")
print("| WADO-RS study /metadata, %s-slice CT, %s requests | first (s) | p50 (s) | p90 (s) | answer (MB) |" % (sys.argv[2], sys.argv[3]))
print("|---|---|---|---|---|")
for name, r in (("medvault", m), ("Orthanc + DICOMweb plugin", o)):
    if r:
        print("| %s | %.3f | %.3f | %.3f | %.2f |" % (name, r["first_s"], r["p50_s"], r["p90_s"], r["answer_bytes"] / 1e6))
if m and o:
    print("| medvault / Orthanc (time) | %.2f | %.2f | %.2f | |" % (m["first_s"] / o["first_s"], m["p50_s"] / o["p50_s"], m["p90_s"] / o["p90_s"]))
PYEOF
cat "$OUT"
