#!/usr/bin/env bash
# C-GET and C-MOVE retrieval through the DIMSE door against Orthanc's, in one run, on the same study
# (issue 16): a CT study (bench/gen_dicom.py, ~0.5 MB a slice) is stored with storescu in medvault
# (scripts/cluster: 3+3 replicas, 3 chunk servers) and in Orthanc (bench/lib.sh's configuration),
# then retrieved at STUDY level RUNS times each by DCMTK's getscu (C-GET), and by movescu (C-MOVE)
# with DCMTK's storescp as the destination of both systems, inside a private network namespace
# (loopback only). Every run must deliver every instance (counted in the output directory), so a
# short answer fails the bench instead of counting as a fast one. Prints one JSON line per run and
# a markdown table: ms an instance (p50 of the runs) and medvault's throughput over Orthanc's, with
# the CPU-seconds of one retrieval per process (bench/cpu_account.py; storescp among them).
#
#   bench/dimse_retrieve.sh [--slices N] [--runs N] [--out FILE] [--quickack]
#
# --quickack turns delayed ACKs off on the namespace's loopback (as in bench/dimse_store.sh): DCMTK's
# getscu and storescp leave Nagle's algorithm on and write each C-STORE response as a header and a
# body, so a sender that does not flush its ACK when the response starts to arrive (Orthanc 1.10.1;
# medvault before 2026-12-06) waits 40 ms per instance. With --quickack that wait is gone for both.
#
# Needs root (unshare -n), dcmtk (storescu, getscu, movescu, storescp, echoscu), Orthanc, and
# binaries in MEDVAULT_BIN_DIR (default build/bin). Scratch space: MEDVAULT_BENCH_TMP (default build/).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
PY=/usr/bin/python3
SLICES=100 RUNS=3 QUICKACK=0
OUT="$ROOT/build/bench-dimse-retrieve.md"
MV_PORT_BASE="${MEDVAULT_PORT_BASE:-37800}"
ORTHANC_HTTP=38143 ORTHANC_DICOM=38213
SCP_PORT=11112  # scripts/cluster's C-MOVE destination STORESCP (DATA/dicom-peers)
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --quickack) QUICKACK=1; shift ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_side_by_side_begin dimse-retrieve "${ARGS[@]}"
for tool in getscu movescu storescp echoscu; do
  command -v "$tool" >/dev/null || { echo "bench/dimse_retrieve.sh: $tool missing (dcmtk)" >&2; exit 2; }
done
if [ "$QUICKACK" = 1 ]; then
  for dst in 127.0.0.0/8 127.0.0.1; do
    ip route replace local "$dst" dev lo proto kernel scope host src 127.0.0.1 table local quickack 1
  done
  log "delayed ACKs off on loopback (quickack)"
fi
# Orthanc answers C-GET and C-MOVE from any AE, and moves to storescp.
ORTHANC_EXTRA_JSON='"DicomAlwaysAllowGet": true, "DicomAlwaysAllowMove": true,
  "DicomModalities": { "STORESCP": ["STORESCP", "127.0.0.1", '"$SCP_PORT"'] },'

log "generating a CT study of $SLICES slices in $WORK/ct"
$PY "$ROOT/bench/gen_dicom.py" ct "$WORK/ct" --slices "$SLICES" >/dev/null
STUDY=$(bench_study_uid "$WORK/ct")

# storescp_up DIR: DCMTK's storescp as the C-MOVE destination, writing into DIR; waits until it
# answers C-ECHO. storescp_down stops it.
SCP_PID=""
storescp_up() {
  mkdir -p "$1"
  storescp -aet STORESCP -od "$1" "$SCP_PORT" 2>>"$WORK/storescp.log" &
  SCP_PID=$!
  for _ in $(seq 100); do
    echoscu -aec STORESCP 127.0.0.1 "$SCP_PORT" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/dimse_retrieve.sh: storescp did not answer" >&2; exit 1
}
storescp_down() {
  [ -n "$SCP_PID" ] || return 0
  kill "$SCP_PID" 2>/dev/null || true
  wait "$SCP_PID" 2>/dev/null || true
  SCP_PID=""
}
trap 'storescp_down; bench_side_by_side_end' EXIT

# run LABEL SYSTEM_MATCH get|move AE PORT: RUNS timed retrievals of the study, then one accounted.
run() {
  local label="$1" match="$2" kind="$3" ae="$4" port="$5" r t0 t1 out n
  local keys=(-k QueryRetrieveLevel=STUDY -k "StudyInstanceUID=$STUDY")
  for r in $(seq 0 "$RUNS"); do  # run 0: accounted by bench/cpu_account.py, not timed
    out="$WORK/out/$label.$r"; rm -rf "$out"; mkdir -p "$out"
    local cmd=(getscu -aec "$ae" -od "$out" "${keys[@]}" 127.0.0.1 "$port")
    if [ "$kind" = move ]; then storescp_up "$out"; cmd=(movescu -aec "$ae" -aem STORESCP "${keys[@]}" 127.0.0.1 "$port"); fi
    t0=$(date +%s.%N)
    if [ "$r" = 0 ]; then
      $PY "$ROOT/bench/cpu_account.py" --label "$label" --match "$match" --json_out "$WORK/cpu.jsonl" -- \
        "${cmd[@]}" 2>>"$WORK/$label.log" >&2
    else
      "${cmd[@]}" 2>>"$WORK/$label.log"
    fi
    t1=$(date +%s.%N)
    storescp_down
    n=$(find "$out" -type f | wc -l)
    if [ "$n" != "$SLICES" ]; then
      echo "bench/dimse_retrieve.sh: $label run $r delivered $n of $SLICES instances; $WORK/$label.log:" >&2
      tail -5 "$WORK/$label.log" >&2; exit 1
    fi
    [ "$r" = 0 ] && continue
    $PY -c 'import json,sys; print(json.dumps({"label":sys.argv[1],"instances":int(sys.argv[2]),"seconds":float(sys.argv[3])}))' \
      "$label" "$n" "$(echo "$t1 - $t0" | bc)" | tee -a "$JSON"
  done
}

log "medvault on port base $MV_PORT_BASE"
rm -rf "$CLUSTER"
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
  >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
bench_store_dir "$WORK/ct" MEDVAULT $((MV_PORT_BASE + 4))
run mv_get "$WORK" get MEDVAULT $((MV_PORT_BASE + 4))
run mv_move "$WORK" move MEDVAULT $((MV_PORT_BASE + 4))
MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null

if [ "$HAVE_ORTHANC" = 1 ]; then
  log "Orthanc"
  orthanc_up
  bench_store_dir "$WORK/ct" ORTHANC "$ORTHANC_DICOM"
  run or_get "$WORK" get ORTHANC "$ORTHANC_DICOM"
  run or_move "$WORK" move ORTHANC "$ORTHANC_DICOM"
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$WORK/cpu.jsonl" "$SLICES" >"$OUT" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
cpu = {r["label"][:-4]: r for r in map(json.loads, open(sys.argv[2]))}
n = int(sys.argv[3])
def ms(label):
    s = [r["seconds"] for r in runs if r["label"] == label]
    return (1e3 * statistics.median(s) / n, 1e3 * min(s) / n, 1e3 * max(s) / n) if s else None
cell = lambda m: "%.1f (%.1f–%.1f)" % m if m else "n/a"
print("| %d-instance CT study, STUDY level | medvault ms an instance, p50 (range) | Orthanc | medvault ÷ Orthanc, throughput |" % n)
print("|---|---|---|---|")
for kind, name in (("get", "C-GET (getscu)"), ("move", "C-MOVE to storescp (movescu)")):
    m, o = ms("mv_" + kind), ms("or_" + kind)
    print("| %s | %s | %s | %s |" % (name, cell(m), cell(o), "%.2f" % (o[0] / m[0]) if m and o else "n/a"))
print()
print("| CPU-s of one retrieval | by process | client | machine idle |")
print("|---|---|---|---|")
for label in ("mv_get", "mv_move", "or_get", "or_move"):
    if label in cpu:
        c = cpu[label]
        print("| %s | %s | %.2f | %.0f%% |" % (label, ", ".join("%s %.2f" % kv for kv in sorted(c["services_cpu_s"].items())),
                                            c["client_cpu_s"], c["idle_pct"]))
PYEOF
cat "$OUT"
