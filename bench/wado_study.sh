#!/usr/bin/env bash
# WADO-RS study retrieval against Orthanc's, in one run, on the same files (issues 16 and 20): a
# 500-slice CT series (bench/gen_dicom.py, ~0.5 MB a slice) is stored with storescu (4
# associations) in medvault (scripts/cluster: 3+3 replicas, 3 chunk servers) and in Orthanc
# (bench/lib.sh's configuration with its DICOMweb plugin), inside a private network namespace
# (loopback only). Then curl retrieves the whole study as multipart/related (stored transfer syntax)
# RUNS times from each, one client at a time, and 4 clients at once: medvault "after" (the study
# is one retrieval: one key release, read-ahead), medvault "before" (a second cluster whose
# frontend runs with MEDVAULT_WADO_PER_INSTANCE=1: instance by instance, one key release each),
# and Orthanc. medvault is HTTPS with client certificates; Orthanc plain HTTP. CPU per service
# for one retrieval is accounted as bench/cpu_account.py does. Prints JSON lines and a markdown
# table of p50 seconds, MB/s and ratios.
#
#   bench/wado_study.sh [--slices N] [--runs N] [--cpu_runs N] [--out FILE]
#                       [--only mv_set|mv_per_instance|orthanc]
# --cpu_runs: how many 1-client retrievals are CPU-accounted, one after another (default 1).
#
# Needs root (unshare -n), storescu (dcmtk), Orthanc with orthanc-dicomweb, and binaries in
# MEDVAULT_BIN_DIR (default build/bin). Scratch: MEDVAULT_BENCH_TMP (default build/).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
PY=/usr/bin/python3
SLICES=500 RUNS=5 CPU_RUNS=1 ONLY=""
OUT="$ROOT/build/bench-wado-study.md"
MV_PORT_BASE="${MEDVAULT_PORT_BASE:-37800}"
ORTHANC_HTTP=38143 ORTHANC_DICOM=38213
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --cpu_runs) CPU_RUNS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;  # mv_set, mv_per_instance or orthanc: that part alone
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
source "$ROOT/bench/lib.sh"
bench_side_by_side_begin wado "${ARGS[@]}"

log "generating a CT series of $SLICES slices in $WORK/ct"
$PY "$ROOT/bench/gen_dicom.py" ct "$WORK/ct" --slices "$SLICES" >/dev/null
STUDY=$(bench_study_uid "$WORK/ct")
BYTES=$(find "$WORK/ct" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')

# No transfer-syntax parameter: Orthanc's plugin 1.7 may refuse "*"; the files are explicit VR
# little endian, so neither side transcodes.
ACCEPT='Accept: multipart/related; type="application/dicom"'
# retrieve LABEL CLIENTS URL [curl args]: RUNS timed retrievals of the study by CLIENTS curls at
# once; one JSON line each (wall seconds, bytes received per client).
retrieve() {
  local label="$1" clients="$2" url="$3"; shift 3
  local r c t0 t1 size
  curl -sf -o /dev/null -H "$ACCEPT" "$@" "$url"  # warm
  for r in $(seq "$RUNS"); do
    local pids=()
    t0=$(date +%s.%N)
    for c in $(seq "$clients"); do
      curl -sf -o /dev/null -w '%{size_download}\n' -H "$ACCEPT" "$@" "$url" >"$WORK/size.$c" & pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c"; done  # not a bare wait: Orthanc is a child too
    t1=$(date +%s.%N)
    size=$(cat "$WORK/size.1")
    # Every client must have had the whole study: a short answer is a failed run, not a fast one.
    for c in $(seq "$clients"); do
      if [ "$(cat "$WORK/size.$c")" != "$size" ] || [ "$size" -lt "$BYTES" ]; then
        echo "client $c of $label received $(cat "$WORK/size.$c") bytes, client 1 $size, the files $BYTES" >&2
        exit 1
      fi
    done
    $PY -c 'import json,sys; print(json.dumps({"label":sys.argv[1],"clients":int(sys.argv[2]),"seconds":float(sys.argv[3]),"bytes":int(sys.argv[4])}))' \
      "$label" "$clients" "$(echo "$t1 - $t0" | bc)" "$size" | tee -a "$JSON"
  done
}

# CPU per process of one retrieval (bench/cpu_account.py).
cpu() {
  local label="$1" match="$2" url="$3" r; shift 3
  for r in $(seq "$CPU_RUNS"); do
    $PY "$ROOT/bench/cpu_account.py" --label "$label" --match "$match" --json_out "$JSON" -- \
      curl -sf -o /dev/null -H "$ACCEPT" "$@" "$url" >&2
  done
}

medvault() {  # LABEL [env...]: a fresh cluster, the series stored, then the retrievals
  local label="$1"; shift
  rm -rf "$CLUSTER"
  env "$@" MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
    >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
  bench_store_dir "$WORK/ct" MEDVAULT $((MV_PORT_BASE + 4))
  local tls="$CLUSTER/tls" url="https://127.0.0.1:$((MV_PORT_BASE + 5))/dicomweb/studies/$STUDY"
  local auth=(--cacert "$tls/ca.crt" --cert "$tls/client.crt" --key "$tls/client.key")
  retrieve "$label" 1 "$url" "${auth[@]}"
  retrieve "$label" 4 "$url" "${auth[@]}"
  cpu "$label" "$CLUSTER" "$url" "${auth[@]}"
  MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null
}

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
if want mv_set; then
  log "medvault, the study as one retrieval"
  medvault mv_set
fi
if want mv_per_instance; then
  log "medvault, instance by instance (MEDVAULT_WADO_PER_INSTANCE=1)"
  medvault mv_per_instance MEDVAULT_WADO_PER_INSTANCE=1
fi
if [ "$HAVE_ORTHANC" = 1 ] && want orthanc; then
  log "Orthanc"
  orthanc_up
  bench_store_dir "$WORK/ct" ORTHANC "$ORTHANC_DICOM"
  url="http://127.0.0.1:$ORTHANC_HTTP/dicom-web/studies/$STUDY"
  retrieve orthanc 1 "$url"
  retrieve orthanc 4 "$url"
  cpu orthanc "$ORTHANC_DIR" "$url"
  # The same over HTTPS, as medvault's door always is (nginx in front: bench/lib.sh).
  ORTHANC_TLS_PORT=$((ORTHANC_HTTP + 1))
  if orthanc_tls_up; then
    url="https://127.0.0.1:$ORTHANC_TLS_PORT/dicom-web/studies/$STUDY"
    retrieve orthanc_https 1 "$url" -k
    retrieve orthanc_https 4 "$url" -k
    cpu orthanc_https "$ORTHANC_DIR" "$url" -k
  fi
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$SLICES" "$BYTES" >"$OUT" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
slices, files = sys.argv[2], int(sys.argv[3])
def p50(label, clients):
    s = [r["seconds"] for r in rows if r["label"] == label and r.get("clients") == clients]
    return statistics.median(s) if s else None
def size(label):
    s = [r["bytes"] for r in rows if r["label"] == label and "bytes" in r]
    return s[0] if s else None
print("WADO-RS study retrieval, %s-slice CT (%.0f MB of files), p50 of the runs" % (slices, files / 1e6))
print()
print("| clients | medvault set (s, MB/s) | medvault per-instance (s, MB/s) | Orthanc (s, MB/s) | Orthanc over HTTPS (s, MB/s) | set / per-instance | set / Orthanc | set / Orthanc over HTTPS |")
print("|---|---|---|---|---|---|---|---|")
for c in (1, 4):
    m, b, o, t = (p50("mv_set", c), p50("mv_per_instance", c), p50("orthanc", c),
                  p50("orthanc_https", c))
    def cell(label, t):
        return "%.2f s, %.0f MB/s" % (t, c * size(label) / t / 1e6) if t else "n/a"
    def ratio(a, b):  # throughput of medvault's set over the other's: the other's time over medvault's
        return "%.2fx" % (a / b) if a and b else "n/a"
    print("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
        c, cell("mv_set", m), cell("mv_per_instance", b), cell("orthanc", o),
        cell("orthanc_https", t), ratio(b, m), ratio(o, m), ratio(t, m)))
print()
for r in rows:
    if r["label"].endswith("-cpu"):
        print("CPU of one retrieval, %s: %s" % (r["label"][:-4], json.dumps({k: v for k, v in r.items() if k != "label"})))
PYEOF
cat "$OUT"
