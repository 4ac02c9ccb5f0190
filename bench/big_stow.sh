#!/usr/bin/env bash
# Issue 16's "a 1 GB instance never sits in memory whole": one STOW-RS upload of a SIZE_MB instance
# (default 1024) with curl into a real cluster, the frontend's peak RSS (VmHWM, reset before the
# upload) against the object's size, and the instance read back through WADO-URI and compared by
# SHA-256. It runs the dicomweb_test case that CI runs at 128 MB
# (DicomWebTest.StowRsLargeInstanceRoundTripsAndReadsBackInBoundedMemory) at the size asked, and prints its
# measurement line and the wall time.
#
#   bench/big_stow.sh [SIZE_MB]
#
# Needs root (it writes /proc/PID/clear_refs of the frontend it starts), the built dicomweb_test
# and about 3 x SIZE_MB of scratch space under TMPDIR (the body, the copy read back, 3 replicas).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZE_MB="${1:-1024}"
TEST="${MEDVAULT_TEST_DIR:-$ROOT/build/tests}/dicomweb_test"
[ -x "$TEST" ] || { echo "bench/big_stow.sh: $TEST is missing; build with scripts/build" >&2; exit 2; }
start=$(date +%s.%N)
MEDVAULT_BIG_STOW_MB="$SIZE_MB" "$TEST" \
  --gtest_filter=DicomWebTest.StowRsLargeInstanceRoundTripsAndReadsBackInBoundedMemory 2>&1 |
  grep -E "big STOW-RS|OK \]|FAILED|Failure|Expected|Which is" || true
end=$(date +%s.%N)
echo "big STOW-RS of $SIZE_MB MiB: the test (cluster start, body generation, upload, read back) took $(echo "$end - $start" | bc) s on $(nproc) cores"
