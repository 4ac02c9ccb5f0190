#!/usr/bin/env bash
# Makes a binary directory that runs this build with one chunk-server layout, for the A/B scripts
# (bench/ab_ingest.sh, bench/ab_get.sh), which compare binary directories:
#
#   bench/chunk_store_bin.sh files /tmp/bin-files && bench/chunk_store_bin.sh pack /tmp/bin-pack
#   bench/ab_ingest.sh /tmp/bin-files /tmp/bin-pack --rounds 2 --slices 200 --mg 2
#
# bench/flag_bin.sh with chunkserver=--chunk_store=LAYOUT.
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
exec "$(dirname "$0")/flag_bin.sh" "$2" "chunkserver=--chunk_store=$1"
