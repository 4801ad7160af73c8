#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan in build-fuzz/ and
# runs each for SECONDS (default 60), starting from the seed corpora in
# tests/fuzz/corpus/<target>/ (and the test inputs). Any crash, leak, timeout
# or sanitizer report fails. New inputs found are kept in build-fuzz/corpus/.
# FuzzCpuCodegen (built when llvm-19-dev is installed) JIT-compiles every
# model it makes and compares the output with the reference interpreter.
#   tests/fuzz/run-fuzzers.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzParser FuzzCheck FuzzCpuCodegen FuzzSafetensors FuzzTorchCheckpoint FuzzOnnx FuzzNpy FuzzCsv)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSEQC_ENABLE_FUZZ=ON -DSEQC_SANITIZE=address,undefined \
  -DSEQC_ENABLE_LLVM=ON -DSEQC_ENABLE_CUDA=OFF >/dev/null
cmake --build build-fuzz -j"${SEQC_JOBS:-2}" --target fuzz_targets

seeds_for() {
  case "$1" in
    FuzzParser|FuzzCheck|FuzzCpuCodegen) find examples tests -name '*.nn' ;;
    FuzzSafetensors) find examples tests -name '*.safetensors' ;;
    FuzzTorchCheckpoint) find examples tests -name '*.pt' ;;
    FuzzOnnx) find examples tests -name '*.onnx' ;;
    FuzzNpy) find examples tests -name '*.npy' ;;
    FuzzCsv) find examples tests -name '*.csv' ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  # The first 500 seeds, read whole (with pipefail, `find | head` fails
  # when head stops reading before find is done).
  mapfile -t seeds < <(seeds_for "$t" | sort)
  for f in "${seeds[@]:0:500}"; do
    cp -n "$f" "$corpus/seed-$(echo "$f" | tr '/' '_')" 2>/dev/null || true
  done
  # One input of FuzzCpuCodegen is a JIT compile plus, for two in three, a
  # second object (AArch64 or AVX-512 + AVX2): a few seconds for its largest
  # models, several times that with ASan's allocator on a busy machine.
  timeout=10
  [ "$t" = FuzzCpuCodegen ] && timeout=60
  if [ ! -x build-fuzz/tests/fuzz/$t ]; then
    echo "-- $t: not built (its optional dependency is missing), skipped"
    continue
  fi
  echo "-- $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1 build-fuzz/tests/fuzz/$t "$corpus" \
      -max_total_time="$seconds" -timeout=$timeout -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix=build-fuzz/"$t"- -print_final_stats=1 2>build-fuzz/$t.log; then
    echo "FAILED: $t (see build-fuzz/$t.log)"; tail -n 40 build-fuzz/$t.log
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" build-fuzz/$t.log | tr '\n' ' '; echo
  fi
done
exit $status
