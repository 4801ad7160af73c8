#!/bin/bash
# weights-pages-ab.sh MODEL BATCH REPS [THREADS] [SEQC] [RUNTIME_LIB]
#
# Compiles tests/bench/MODEL.nn (--init-seed 1) with --external-weights,
# links it into weights_pages_ab.c with the runtime and times it on the
# weights mapped (seqc_weights_map), read into malloc'd memory, and loaded
# into 2 MiB pages (seqc_weights_load), round by round in one process
# (docs/performance.md, "Weights in huge pages"). SEQC defaults to
# build-bench/seqc, RUNTIME_LIB to the runtime library beside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/ab-lib.sh"
model=$1 batch=$2 reps=$3 threads=${4:-1}
seqc=${5:-$root/build-bench/seqc}
runtime=${6:-$(dirname "$seqc")/runtime/libseqc_runtime.a}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$seqc" compile "$here/$model.nn" --init-seed 1 --external-weights \
  -o "$work/$model"
model_features "$work/$model.h" "$model"
cc -O2 -std=c11 -I"$work" -I"$root/runtime" -DMODEL="$model" -DIN_F="$inF" \
  -DOUT_F="$outF" -DHEADER="\"$model.h\"" -o "$work/ab" \
  "$here/weights_pages_ab.c" "$work/$model.o" "$runtime" -lstdc++ -lpthread
"$work/ab" "$batch" "$reps" "$work/$model.weights" "$threads"
