#!/usr/bin/env bash
# Keeps the Orthanc harnesses of issue 6 working, with tiny counts and no timing assertions (the
# figures of a smoke run mean nothing):
#   smoke_test.sh [run]   bench/run --smoke: every row was measured and nothing failed
#   smoke_test.sh scale   bench/scale --smoke: both systems reached their checkpoints, nothing
#                         failed, both answered every query with the same number of studies, and
#                         scale_bench and scale_orthanc.py generate the same instances and queries
# Exit 77 (skipped) when this environment cannot make a private network namespace.
# MEDVAULT_BIN_DIR (set by ctest) picks the binaries of the build tree under test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODE="${1:-run}"
if ! unshare -n true 2>/dev/null && ! unshare -rn true 2>/dev/null; then
  echo "SKIP: cannot create a network namespace here (bench/$MODE needs unshare -n)"
  exit 77
fi
OUT="$(mktemp /tmp/medvault-bench-smoke-XXXXXX.md)"
trap 'rm -f "$OUT" "$OUT".* "${OUT%.md}.jsonl"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
have_orthanc() { command -v Orthanc >/dev/null || [ -x /usr/sbin/Orthanc ]; }

smoke_run() {
  "$ROOT/bench/run" --smoke --out "$OUT"
  grep -q "Smoke run" "$OUT" || fail "no results table"
  for row in "medvault gRPC (load_gen)" "medvault CLI put --jobs 4" "AES-256-GCM" "written 3× with fdatasync"; do
    grep -qF "$row" "$OUT" || fail "no row: $row"
  done
  grep -Eq '^\| 16 \| [0-9]' "$OUT" || fail "no medvault retrieval at concurrency 16"
  grep -A5 -F "Retrieval of the large objects" "$OUT" | grep -Eq '^\| [0-9]' || fail "no large-object retrieval"
  if have_orthanc; then
    for row in "Orthanc REST POST /instances" "Orthanc storescu, 4 assoc"; do
      grep -qF "$row" "$OUT" || fail "no row: $row"
    done
  fi
}

smoke_scale() {
  # The two generators must agree value for value (the Orthanc side parses its own DICOM back).
  local bin="${MEDVAULT_BIN_DIR:-$ROOT/build/bin}"
  "$bin/scale_bench" --dump_tags=1200 >"$OUT.cc"
  /usr/bin/python3 "$ROOT/bench/scale_orthanc.py" dump 1200 >"$OUT.py"
  diff -q "$OUT.cc" "$OUT.py" >/dev/null || fail "scale_bench and scale_orthanc.py generate different data: $(diff "$OUT.cc" "$OUT.py" | head -3)"

  "$ROOT/bench/scale" --smoke --out "$OUT"
  grep -q "Smoke run" "$OUT" || fail "no results table"
  # Ingest rows: instances, studies, then medvault's rate (a number) at both checkpoints.
  for n in 500 2,000; do
    grep -Eq "^\| $n \| [0-9]+ \| [0-9]" "$OUT" || fail "no medvault ingest figure at $n"
  done
  grep -Eq '^\| 2,000 \| none \| [0-9.,]+ / [0-9.,]+ \| [0-9.,]+ / ' "$OUT" || fail "no medvault FindStudies figures at 2,000"
  if have_orthanc; then
    grep -Eq '^\| 500 \| [0-9]+ \| [0-9.,]+ \| [0-9.,/ ]+ \| [0-9]' "$OUT" || fail "no Orthanc ingest figure at 500"
    grep -Eq '^\| 500 \| none \|.*\| [0-9.,]+ / [0-9.,]+ \| [0-9.,]+×' "$OUT" || fail "no Orthanc find figures at 500"
  fi
  ! grep -q "Result counts differ" "$OUT" || fail "$(grep "Result counts differ" "$OUT")"
}

case "$MODE" in
  run) smoke_run ;;
  scale) smoke_scale ;;
  *) fail "unknown mode $MODE (run or scale)" ;;
esac
! grep -q "Failures" "$OUT" || fail "$(grep Failures "$OUT")"
if ! have_orthanc; then echo "NOTE: Orthanc is not installed (scripts/install-deps installs it): its rows were skipped"; fi
echo "PASS: bench/$MODE --smoke"
