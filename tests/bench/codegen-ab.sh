#!/bin/bash
# codegen-ab.sh MODEL BATCH REPS THREADS SEQC_A SEQC_B [RUNTIME_LIB]
#
# Compiles tests/bench/MODEL.nn, or MODEL itself when it is a path to a
# NAME.nn whose NAME is a C identifier (--init-seed 1, --external-weights),
# with two seqc commands, links both into codegen_ab.c with the runtime and
# times them round by round in one process (docs/performance.md, "Comparing
# two builds"). SEQC_A and SEQC_B are commands, split on spaces, so either may
# set variables: "env SEQC_X=1 build-bench/seqc". AB_FLAGS adds options
# to both compiles (AB_FLAGS="--cpu x86-64-v3": the AVX2 kernels).
# RUNTIME_LIB defaults to build-bench's runtime library. Prints per variant
# the median and minimum seconds per call, and the median of the per-round
# ratio b / a.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/ab-lib.sh"
model=$1 batch=$2 reps=$3 threads=$4
nnFile=$here/$model.nn
if [[ $model == *.nn ]]; then
  nnFile=$model
  model=$(basename "$model" .nn)
fi
read -r -a seqcA <<<"$5"
read -r -a seqcB <<<"$6"
read -r -a flags <<<"${AB_FLAGS:-}"
runtime=${7:-$root/build-bench/runtime/libseqc_runtime.a}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${seqcA[@]}" compile "$nnFile" --init-seed 1 --external-weights \
  "${flags[@]}" -o "$work/${model}_a"
"${seqcB[@]}" compile "$nnFile" --init-seed 1 --external-weights \
  "${flags[@]}" -o "$work/${model}_b"
model_features "$work/${model}_a.h" "${model}_a"
cc -O2 -std=c11 -I"$work" -I"$root/runtime" -DMODEL="$model" -DIN_F="$inF" \
  -DOUT_F="$outF" -DHEADER_A="\"${model}_a.h\"" -DHEADER_B="\"${model}_b.h\"" \
  -o "$work/ab" "$here/codegen_ab.c" "$work/${model}_a.o" "$work/${model}_b.o" \
  "$runtime" -lstdc++ -lpthread
"$work/ab" "$batch" "$reps" "$work/${model}_a.weights" \
  "$work/${model}_b.weights" "$threads"
