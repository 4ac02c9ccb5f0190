#!/usr/bin/env bash
# Single-instance reads of Orthanc's /instances/{id}/file by curl (libcurl and OpenSSL: a C client,
# as medvault's load_gen is C++), CONCURRENCY curl processes each reading its share of the IDS
# file's Orthanc ids over one kept-alive connection. Prints one line like http_load.py's:
#
#   bench/curl_reads.sh BASE_URL IDS CONCURRENCY LABEL [JSON_OUT]
#
# BASE_URL is http://... or https://... (a self-signed TLS front: not verified).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
BASE="$1" IDS="$2" C="$3" LABEL="$4" JSON="${5:-}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
# Split the ids round-robin into one URL list per client.
awk -v c="$C" -v base="$BASE" -v dir="$TMP" \
  '{ f = dir "/urls." (NR % c); print "url = \"" base "/instances/" $1 "/file\"" >> f; print "output = \"/dev/null\"" >> f }' "$IDS"
t0=$(date +%s.%N)
pids=()
for f in "$TMP"/urls.*; do
  curl -sfk --config "$f" -w '%{http_code} %{time_total} %{size_download}\n' >"$f.out" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(date +%s.%N)
cat "$TMP"/urls.*.out | /usr/bin/python3 -c '
import json, sys
label, wall, c, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [l.split() for l in sys.stdin if l.strip()]
ok = [(float(t) * 1e3, int(n)) for code, t, n in rows if code == "200"]
lat = sorted(t for t, _ in ok)
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0
nbytes = sum(n for _, n in ok)
fig = {"label": label, "client": "curl", "concurrency": c, "ok": len(ok), "failed": len(rows) - len(ok),
       "bytes": nbytes, "seconds": wall, "per_s": len(ok) / wall, "mb_s": nbytes / wall / 1e6,
       "p50_ms": pct(.5), "p90_ms": pct(.9), "p99_ms": pct(.99), "max_ms": lat[-1] if lat else 0.0}
print("%s: %d ok, %d failed, %.1f MB in %.2f s: %.1f instances/s, %.1f MB/s; latency ms p50 %.2f p90 %.2f "
      "p99 %.2f max %.2f (concurrency %d, curl)" % (label, fig["ok"], fig["failed"], nbytes / 1e6, wall,
      fig["per_s"], fig["mb_s"], fig["p50_ms"], fig["p90_ms"], fig["p99_ms"], fig["max_ms"], c))
if out:
    open(out, "a").write(json.dumps(fig) + "\n")
' "$LABEL" "$(echo "$t1 - $t0" | bc)" "$C" "$JSON"
