#!/bin/bash
# external-weights-ab.sh MODEL BATCH REPS [SEQC] [RUNTIME_LIB]
#
# Compiles tests/bench/MODEL.nn (--init-seed 1) twice with seqc, weights
# embedded and --external-weights, links both into external_ab.c with the
# runtime and times them call by call in one process (docs/performance.md,
# "External weights"). SEQC defaults to build-bench/seqc, RUNTIME_LIB to
# the runtime library beside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/ab-lib.sh"
model=$1 batch=$2 reps=$3
seqc=${4:-$root/build-bench/seqc}
runtime=${5:-$(dirname "$seqc")/runtime/libseqc_runtime.a}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/emb" "$work/ext"
"$seqc" compile "$here/$model.nn" --init-seed 1 -o "$work/emb/$model"
"$seqc" compile "$here/$model.nn" --init-seed 1 --external-weights \
  -o "$work/ext/${model}_x"
model_features "$work/ext/${model}_x.h" "${model}_x"
cc -O2 -std=c11 -I"$work" -I"$root/runtime" -DMODEL="$model" -DIN_F="$inF" \
  -DEMB_HEADER="\"emb/$model.h\"" -DEXT_HEADER="\"ext/${model}_x.h\"" \
  -DOUT_F="$outF" -o "$work/ab" "$here/external_ab.c" "$work/emb/$model.o" \
  "$work/ext/${model}_x.o" "$runtime"
"$work/ab" "$batch" "$reps" "$work/ext/${model}_x.weights"
