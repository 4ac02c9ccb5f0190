#!/usr/bin/env bash
# C-STORE ingest of the DIMSE door against Orthanc's, in one run, on the same files (issue 16):
# DCMTK's storescu sends a 500-slice CT series (bench/gen_dicom.py, ~0.5 MB a slice) with 1 and
# with 4 associations to medvault's frontend (scripts/cluster: 3+3 replicas, 3 chunk servers, the
# DIMSE door) and to Orthanc (bench/lib.sh's configuration, fresh and empty per run), inside a
# private network namespace (loopback only). Prints one JSON line per run and a markdown table
# with medvault/Orthanc ratios, the CPU-seconds per slice of each system's processes
# (bench/cpu_account.py) and, for medvault, the server-side mean latency per slice of the stages
# the chunk servers and metaservers time (a chunk write with its fsyncs, a manifest commit).
#
#   bench/dimse_store.sh [--slices N] [--out FILE] [--quickack] [--mv NAME=BIN_DIR]...
#
# --quickack turns delayed ACKs off on the namespace's loopback routes (`ip route ... quickack 1`).
# DCMTK leaves Nagle's algorithm on and writes each C-STORE response as a header and a body, so a
# receiver that does not turn it off (Orthanc 1.10.1; medvault before 2026-12-06) waits 40 ms per
# instance for storescu's delayed ACK. With --quickack that wait is gone for every system: the
# comparison of what they do, not of that interplay.
#
# Each --mv adds a medvault variant (binaries in BIN_DIR, e.g. made by bench/flag_bin.sh), run one
# after the other in the same run, each on a fresh cluster (NAME: letters and digits, not "or");
# without --mv one variant "mv" runs MEDVAULT_BIN_DIR. Every cluster's CPU while idle (10 s before
# its first slice) is measured too, and subtracted in the "net" CPU column (the services' timers
# and heartbeats, not the slices).
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
ARGS=("$@") VARIANTS=() QUICKACK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --slices) SLICES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --mv) VARIANTS+=("$2"); shift 2 ;;
    --quickack) QUICKACK=1; shift ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("mv=$BIN")
source "$ROOT/bench/lib.sh"
bench_side_by_side_begin dimse "${ARGS[@]}"
if [ "$QUICKACK" = 1 ]; then
  for dst in 127.0.0.0/8 127.0.0.1; do
    ip route replace local "$dst" dev lo proto kernel scope host src 127.0.0.1 table local quickack 1
  done
  log "delayed ACKs off on loopback (quickack)"
fi

# Two series of the same shape with different UIDs per system: each run stores new instances.
SETS=(or1 or4)
for v in "${VARIANTS[@]}"; do SETS+=("${v%%=*}1" "${v%%=*}4"); done
log "generating ${#SETS[@]} CT series of $SLICES slices in $WORK"
for set in "${SETS[@]}"; do $PY "$ROOT/bench/gen_dicom.py" ct "$WORK/$set" --slices "$SLICES" >/dev/null; done

# storescu_run LABEL AE PORT ASSOCIATIONS DIR: the files split round-robin over ASSOCIATIONS
# storescu processes (one association each), timed from the first start to the last exit.
storescu_run() {
  local label="$1" ae="$2" port="$3" assoc="$4" dir="$5" t0 t1 n bytes
  n=$(find "$dir" -type f | wc -l); bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  find "$dir" -type f | sort | split -n "r/$assoc" - "$WORK/part."
  local rc=0
  t0=$(date +%s.%N)
  # Every process under $WORK (the cluster or Orthanc, and storescu) is accounted for.
  $PY "$ROOT/bench/cpu_account.py" --label "$label" --match "$WORK" --json_out "$WORK/cpu.jsonl" -- \
    bash -c 'pids=(); for part in "$1"/part.*; do xargs -a "$part" storescu -R -aec "$2" 127.0.0.1 "$3" 2>>"$1/$4.log" & pids+=($!); done
             rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done; exit $rc' _ "$WORK" "$ae" "$port" "$label" >&2 || rc=1
  t1=$(date +%s.%N)
  rm -f "$WORK"/part.*
  [ $rc = 0 ] || { echo "bench/dimse_store.sh: storescu failed; $WORK/$label.log:" >&2; tail -5 "$WORK/$label.log" >&2; exit 1; }
  $PY -c 'import json,sys; n,b,s=int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); print(json.dumps({"label":sys.argv[1],"instances":n,"bytes":b,"seconds":s,"per_s":n/s,"mb_s":b/s/1e6}))' \
    "$label" "$n" "$bytes" "$(echo "$t1 - $t0" | bc)" | tee -a "$JSON"
}

# scrape LABEL: the sums and counts of the servers' latency histograms, for the profile.
scrape() {
  local urls=() o
  for o in 2010 2011 2012 2030 2031 2032 2000; do urls+=("http://127.0.0.1:$((MV_PORT_BASE + o))/metrics"); done
  $PY - "$1" "${urls[@]}" >>"$WORK/scrape.jsonl" <<'PYEOF'
import json, sys, urllib.request
want = ("medvault_chunkserver_write_latency_seconds", "medvault_metaserver_commit_latency_seconds",
        "medvault_metaserver_commit_group_size")
out = {"label": sys.argv[1]}
for url in sys.argv[2:]:
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        for w in want:
            for suffix in ("_sum", "_count"):
                if line.startswith(w + suffix + " ") or line.startswith(w + suffix + "{"):
                    out[w + suffix] = out.get(w + suffix, 0.0) + float(line.split()[-1])
print(json.dumps(out))
PYEOF
}
for v in "${VARIANTS[@]}"; do
  name="${v%%=*}" BIN="${v#*=}"
  log "medvault variant $name ($BIN) on port base $MV_PORT_BASE"
  rm -rf "$CLUSTER"
  MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" up --data "$CLUSTER" --no-samples \
    >"$WORK/cluster-up.log" 2>&1 || { cat "$WORK/cluster-up.log" >&2; exit 1; }
  $PY "$ROOT/bench/cpu_account.py" --label "${name}_idle" --match "$WORK" --json_out "$WORK/cpu.jsonl" -- sleep 10 >&2
  scrape "${name}_start"
  storescu_run "${name}_scu1" MEDVAULT $((MV_PORT_BASE + 4)) 1 "$WORK/${name}1"
  scrape "${name}_scu1"
  storescu_run "${name}_scu4" MEDVAULT $((MV_PORT_BASE + 4)) 4 "$WORK/${name}4"
  scrape "${name}_scu4"
  MEDVAULT_PORT_BASE="$MV_PORT_BASE" MEDVAULT_BIN_DIR="$BIN" "$ROOT/scripts/cluster" down --data "$CLUSTER" >/dev/null
done

if [ "$HAVE_ORTHANC" = 1 ]; then
  log "Orthanc"
  orthanc_up
  storescu_run or_scu1 ORTHANC "$ORTHANC_DICOM" 1 "$WORK/or1"
  orthanc_up
  storescu_run or_scu4 ORTHANC "$ORTHANC_DICOM" 4 "$WORK/or4"
  orthanc_down
fi

mkdir -p "$(dirname "$OUT")"
$PY - "$JSON" "$SLICES" "$WORK/cpu.jsonl" "$WORK/scrape.jsonl" "${VARIANTS[@]%%=*}" >"$OUT" <<'PYEOF'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
cpu = {r["label"][:-4]: r for r in map(json.loads, open(sys.argv[3]))}
scr = [json.loads(l) for l in open(sys.argv[4])]
names = sys.argv[5:]
print("| C-STORE, %s-slice CT, storescu | %s | Orthanc inst/s (MB/s) | %s |" % (
    sys.argv[2], " | ".join("%s inst/s (MB/s)" % m for m in names), " | ".join("%s / Orthanc" % m for m in names)))
print("|---|" + "---|" * (2 * len(names) + 1))
cell = lambda r: "%.1f (%.1f)" % (r["per_s"], r["mb_s"]) if r else "n/a"
for n in (1, 4):
    o = rows.get("or_scu%d" % n)
    ms = [rows.get("%s_scu%d" % (m, n)) for m in names]
    ratios = ["%.2f" % (m["per_s"] / o["per_s"]) if m and o else "n/a" for m in ms]
    print("| %d association%s | %s | %s | %s |" % (n, "s" if n > 1 else "", " | ".join(map(cell, ms)), cell(o), " | ".join(ratios)))
print()
print("| CPU per slice (ms) | services | services net of idle | of which (net) | storescu | machine idle |")
print("|---|---|---|---|---|---|")
for label in [m + s for m in names for s in ("_scu1", "_scu4")] + ["or_scu1", "or_scu4"]:
    if label not in cpu or label not in rows: continue
    c, n = cpu[label], rows[label]["instances"]
    idle = cpu.get(label.split("_scu")[0] + "_idle")
    net = {}
    for k, v in c["services_cpu_s"].items():
        rate = idle["services_cpu_s"].get(k, 0) / idle["wall_s"] if idle else 0
        net[k] = v - rate * c["wall_s"]
    print("| %s | %.1f | %.1f | %s | %.1f | %.0f%% |" % (label, 1e3 * sum(c["services_cpu_s"].values()) / n,
          1e3 * sum(net.values()) / n, ", ".join("%s %.1f" % (k, 1e3 * v / n) for k, v in net.items()),
          1e3 * c["client_cpu_s"] / n, c["idle_pct"]))
print()
print("| medvault, server side, mean per call (ms) | chunk write incl. fsync | manifest commit (Raft) | commits per group |")
print("|---|---|---|---|")
for a, b in zip(scr, scr[1:]):
    if b["label"].endswith("_start"): continue
    d = lambda k: b.get(k, 0) - a.get(k, 0)
    mean = lambda w: "%.1f" % (1e3 * d(w + "_sum") / d(w + "_count")) if d(w + "_count") else "n/a"
    grp = "%.2f" % (d("medvault_metaserver_commit_group_size_sum") / d("medvault_metaserver_commit_group_size_count")) \
        if d("medvault_metaserver_commit_group_size_count") else "n/a"
    print("| %s | %s | %s | %s |" % (b["label"], mean("medvault_chunkserver_write_latency_seconds"),
          mean("medvault_metaserver_commit_latency_seconds"), grp))
PYEOF
cat "$OUT"
