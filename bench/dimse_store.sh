#!/usr/bin/env bash
# C-STORE ingest of the DIMSE door against Orthanc's, in one run, on the same files (issue 16):
# DCMTK's storescu sends a 500-slice CT series (bench/gen_dicom.py, ~0.5 MB a slice) with 1 and
# with 4 associations to medvault's frontend (scripts/cluster: 3+3 replicas, 3 chunk servers, the
# DIMSE door) and to Orthanc (bench/lib.sh's configuration, fresh and empty per run), inside a
# private network namespace (loopback only). Prints one JSON line per run and a markdown table
# with medvault/Orthanc ratios.
#
#   bench/dimse_store.sh [--slices N] [--out FILE]
#
# Needs root (unshare -n), storescu (dcmtk), Orthanc, and binaries in MEDVAULT_BIN_DIR (default
# build/bin). Scratch space: MEDVAULT_BENCH_TMP (default build/), on the disk under test.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
PY=/usr/bin/python3
SLICES=500
OUT="$ROOT/build/bench-dimse-store.md"
MV_PORT_BASE="${MEDVAULT_PORT_BASE:-37700}"
ORTHANC_HTTP=38142 ORTHANC_DICOM=38212
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_side_by_side_begin dimse "${ARGS[@]}"

# Two series of the same shape with different UIDs per system: each run stores new instances.
log "generating 4 CT series of $SLICES slices in $WORK"
for set in mv1 mv4 or1 or4; do $PY "$ROOT/bench/gen_dicom.py" ct "$WORK/$set" --slices "$SLICES" >/dev/null; done

# storescu_run LABEL AE PORT ASSOCIATIONS DIR: the files split round-robin over ASSOCIATIONS
# storescu processes (one association each), timed from the first start to the last exit.
storescu_run() {
  local label="$1" ae="$2" port="$3" assoc="$4" dir="$5" t0 t1 n bytes
  n=$(find "$dir" -type f | wc -l); bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  find "$dir" -type f | sort | split -n "r/$assoc" - "$WORK/part."
  local pids=() rc=0
  t0=$(date +%s.%N)
  for part in "$WORK"/part.*; do
    xargs -a "$part" storescu -R -aec "$ae" 127.0.0.1 "$port" 2>>"$WORK/$label.log" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  t1=$(date +%s.%N)
  rm -f "$WORK"/part.*
  [ $rc = 0 ] || { echo "bench/dimse_store.sh: storescu failed; $WORK/$label.log:" >&2; tail -5 "$WORK/$label.log" >&2; exit 1; }
  $PY -c 'import json,sys; n,b,s=int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); print(json.dumps({"label":sys.argv[1],"instances":n,"bytes":b,"seconds":s,"per_s":n/s,"mb_s":b/s/1e6}))' \
    "$label" "$n" "$bytes" "$(echo "$t1 - $t0" | bc)" | tee -a "$JSON"
}

log "medvault cluster on port base $MV_PORT_BASE"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
  >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
storescu_run mv_scu1 MEDVAULT $((MV_PORT_BASE + 4)) 1 "$WORK/mv1"
storescu_run mv_scu4 MEDVAULT $((MV_PORT_BASE + 4)) 4 "$WORK/mv4"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null

if [ "$HAVE_ORTHANC" = 1 ]; then
  log "Orthanc"
  orthanc_up
  storescu_run or_scu1 ORTHANC "$ORTHANC_DICOM" 1 "$WORK/or1"
  orthanc_up
  storescu_run or_scu4 ORTHANC "$ORTHANC_DICOM" 4 "$WORK/or4"
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$SLICES" >"$OUT" <<'PYEOF'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
print("| C-STORE, %s-slice CT, storescu | medvault inst/s (MB/s) | Orthanc inst/s (MB/s) | medvault / Orthanc |" % sys.argv[2])
print("|---|---|---|---|")
for n in (1, 4):
    m, o = rows.get("mv_scu%d" % n), rows.get("or_scu%d" % n)
    cell = lambda r: "%.1f (%.1f)" % (r["per_s"], r["mb_s"]) if r else "n/a"
    ratio = "%.2f" % (m["per_s"] / o["per_s"]) if m and o else "n/a"
    print("| %d association%s | %s | %s | %s |" % (n, "s" if n > 1 else "", cell(m), cell(o), ratio))
PYEOF
cat "$OUT"
