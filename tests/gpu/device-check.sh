#!/usr/bin/env bash
# The GPU check of seqc's CUDA backend, for a machine lent with a GPU (see
# docs/cuda-backend.md). From the repository root, with `.carry` filled by
# tests/gpu/fill-carry.sh and named in the device tool's `carry`:
#
#   bash tests/gpu/device-check.sh
#
# It configures without LLVM, builds the CUDA targets with all cores, runs the
# `gpu`-labelled tests (every network vs the float64 reference, every
# strategy and precision, batches 0, 1, odd, 16, 17, 1000, 2^20), the AOT app
# on the GPU, then seqc's benchmarks and the PyTorch peers (eager,
# torch.compile, GEMM-only) in the same run, and writes under $OUT:
#   summary.md  env + test results + the ratio table
#   logs.txt    configure/build/test output
#   seqc_bench.jsonl, torch_bench.jsonl
# Each phase has a time limit (565 s in all) so the script ends inside one
# 10-minute device call; partial benchmark output is still summarised.
set -u -o pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-$root/gpu-out}
mkdir -p "$OUT"
summary=$OUT/summary.md
logs=$OUT/logs.txt
: > "$summary"
: > "$logs"
note() { echo "$*" | tee -a "$summary"; }
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start ))s; }

note "# seqc device check ($(date -u +%FT%TZ))"
{
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
    --format=csv 2>&1
  for tool in cmake ninja g++ nvcc python3; do
    printf '%-8s %s\n' "$tool" "$(command -v $tool || echo MISSING)"
  done
  ls -d /usr/include/fmt /usr/include/doctest 2>&1
  echo '```'
} | tee -a "$summary"

args=(-G Ninja -DSEQC_ENABLE_LLVM=OFF -DSEQC_ENABLE_CUDA=ON
      -DCMAKE_BUILD_TYPE=Release)
[ -d /usr/include/fmt ] || args+=(-Dfmt_DIR="$root/.carry/lib/cmake/fmt")
[ -f /usr/include/doctest/doctest.h ] ||
  args+=(-DSEQC_DOCTEST_INCLUDE="$root/.carry/include")
command -v nvcc >/dev/null && export CUDAToolkit_ROOT=$(dirname "$(dirname "$(command -v nvcc)")")
build=$root/build-gpu
note "## build ($(elapsed))"
if ! timeout 45 cmake -S . -B "$build" "${args[@]}" >> "$logs" 2>&1; then
  note "configure FAILED (see logs.txt)"; tail -30 "$logs"; exit 1
fi
if ! timeout 120 ninja -C "$build" -j "$(nproc)" CudaGpuTest CudaAotTest \
     CudaNvrtcTest seqc-cuda-bench >> "$logs" 2>&1; then
  note "build FAILED (see logs.txt)"; tail -40 "$logs"; exit 1
fi
note "built in $(elapsed)"

note "## gpu tests ($(elapsed))"
status=0
(cd "$build" && timeout 180 ctest -L gpu -R 'cuda\.' -j 2 --output-on-failure \
   --timeout 170) > "$OUT/gpu_tests.txt" 2>&1 || status=1
(cd "$build" && timeout 30 ctest -R 'cuda\.aot' --output-on-failure) \
  >> "$OUT/gpu_tests.txt" 2>&1 || status=1
grep -E "tests passed|Passed|Failed|\*\*\*|SKIP|error" "$OUT/gpu_tests.txt" |
  tail -25 | tee -a "$summary"
[ $status = 0 ] && note "gpu tests: PASS" || note "gpu tests: FAIL (gpu_tests.txt)"

note "## benchmarks ($(elapsed))"
timeout 90 "$build/tests/cuda/seqc-cuda-bench" > "$OUT/seqc_bench.jsonl" \
  2>> "$logs" || note "seqc-cuda-bench did not finish (see logs.txt)"
timeout 100 python3 tests/gpu/torch_bench.py > "$OUT/torch_bench.jsonl" \
  2>> "$logs" || note "torch_bench.py did not finish (see logs.txt)"
python3 tests/gpu/summarize.py "$OUT/seqc_bench.jsonl" \
  "$OUT/torch_bench.jsonl" | tee -a "$summary"
note "done in $(elapsed)"
exit $status
