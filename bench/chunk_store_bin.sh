#!/usr/bin/env bash
# Makes a binary directory that runs this build with one chunk-server layout, for the A/B scripts
# (bench/ab_ingest.sh, bench/ab_get.sh), which compare binary directories:
#
#   bench/chunk_store_bin.sh files /tmp/bin-files && bench/chunk_store_bin.sh pack /tmp/bin-pack
#   bench/ab_ingest.sh /tmp/bin-files /tmp/bin-pack --rounds 2 --slices 200 --mg 2
#
# Every binary is a link into build/bin except chunkserver, a wrapper that adds --chunk_store.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
LAYOUT="$1" OUT="$2"
rm -rf "$OUT"; mkdir -p "$OUT"
for f in "$ROOT"/build/bin/*; do ln -s "$f" "$OUT/$(basename "$f")"; done
rm "$OUT/chunkserver"
printf '#!/bin/sh\nexec %s "$@" --chunk_store=%s\n' "$ROOT/build/bin/chunkserver" "$LAYOUT" >"$OUT/chunkserver"
chmod +x "$OUT/chunkserver"
