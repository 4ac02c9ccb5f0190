#!/usr/bin/env bash
# Makes a binary directory that runs this build with extra flags on some binaries, for the A/B
# scripts (bench/ab_ingest.sh, bench/ab_get.sh), which compare binary directories:
#
#   bench/flag_bin.sh /tmp/bin-nolease metaserver=--raft_lease_reads=false keyservice=--raft_lease_reads=false
#   bench/flag_bin.sh /tmp/bin-lease
#   bench/ab_get.sh /tmp/bin-nolease /tmp/bin-lease --rounds 2
#
# Every binary is a link into build/bin except those named, wrappers that append their flags.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
OUT="$1"; shift
rm -rf "$OUT"; mkdir -p "$OUT"
for f in "$ROOT"/build/bin/*; do ln -s "$f" "$OUT/$(basename "$f")"; done
declare -A extra=()
for arg in "$@"; do
  name="${arg%%=*}" flag="${arg#*=}"
  [ -x "$ROOT/build/bin/$name" ] || { echo "no binary build/bin/$name" >&2; exit 2; }
  extra[$name]="${extra[$name]:-} $flag"
done
for name in "${!extra[@]}"; do
  rm "$OUT/$name"
  printf '#!/bin/sh\nexec %s "$@"%s\n' "$ROOT/build/bin/$name" "${extra[$name]}" >"$OUT/$name"
  chmod +x "$OUT/$name"
done
