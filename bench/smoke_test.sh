#!/usr/bin/env bash
# Keeps bench/run working (issue 6): the whole harness with tiny counts, checking that every row
# was measured and nothing failed. No timing assertions: the figures of a smoke run mean nothing.
# Exit 77 (skipped) when this environment cannot make a private network namespace.
# MEDVAULT_BIN_DIR (set by ctest) picks the binaries of the build tree under test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if ! unshare -n true 2>/dev/null && ! unshare -rn true 2>/dev/null; then
  echo "SKIP: cannot create a network namespace here (bench/run needs unshare -n)"
  exit 77
fi
OUT="$(mktemp /tmp/medvault-bench-smoke-XXXXXX.md)"
trap 'rm -f "$OUT"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ROOT/bench/run" --smoke --out "$OUT"

grep -q "Smoke run" "$OUT" || fail "no results table"
for row in "medvault gRPC (load_gen)" "medvault CLI put --jobs 4" "AES-256-GCM" "written 3× with fdatasync"; do
  grep -qF "$row" "$OUT" || fail "no row: $row"
done
grep -Eq '^\| 16 \| [0-9]' "$OUT" || fail "no medvault retrieval at concurrency 16"
if command -v Orthanc >/dev/null || [ -x /usr/sbin/Orthanc ]; then
  for row in "Orthanc REST POST /instances" "Orthanc storescu, 4 assoc"; do
    grep -qF "$row" "$OUT" || fail "no row: $row"
  done
else
  echo "NOTE: Orthanc is not installed (scripts/install-deps installs it): its rows were skipped"
fi
! grep -q "Failures" "$OUT" || fail "$(grep Failures "$OUT")"
echo "PASS: bench/run --smoke measured every row"
