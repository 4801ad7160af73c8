#!/usr/bin/env bash
# The whole test suite: the normal build and its tests, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and every fuzz target for
# SEQC_FUZZ_SECONDS (default 60) each. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SEQC_JOBS:-2}
fuzz_seconds=${SEQC_FUZZ_SECONDS:-60}

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests =="
ctest --test-dir build -j"$jobs" --output-on-failure

echo "== build with ASan + UBSan =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSEQC_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure -LE "slow|gpu"

if [ -x tests/fuzz/run-fuzzers.sh ] && command -v clang++ >/dev/null; then
  echo "== fuzzing (${fuzz_seconds}s per target) =="
  tests/fuzz/run-fuzzers.sh "$fuzz_seconds"
fi
echo "all tests passed"
