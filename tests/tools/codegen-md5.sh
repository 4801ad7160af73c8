#!/usr/bin/env bash
# codegen-md5.sh BUILD_DIR OUT_DIR [--quick]
#
# Writes everything the code generators produce for a fixed set of models
# into OUT_DIR (see CodegenDump.cpp) plus what `seqc emit` and `seqc compile`
# give for the benchmark suite, the examples and the golden networks, then
# OUT_DIR/md5.txt: one md5 per file. Two builds generate the same code when
# their md5.txt files are equal:
#
#   tests/tools/codegen-md5.sh build /tmp/before && ...change, rebuild... &&
#   tests/tools/codegen-md5.sh build /tmp/after && diff /tmp/{before,after}/md5.txt
#
# --quick leaves out the PTX, the large models and most CPU variants (about
# 3 minutes instead of 15 on 2 cores); the full run is the one to quote.
set -euo pipefail
build=${1:?usage: codegen-md5.sh BUILD_DIR OUT_DIR [--quick]}
out=${2:?usage: codegen-md5.sh BUILD_DIR OUT_DIR [--quick]}
shift 2
ptx=1
quick=0
dumpflags=()
for a in "$@"; do
  case "$a" in
  --quick) ptx=0; quick=1; dumpflags+=(--quick) ;;
  *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
seqc=$build/seqc
cmake --build "$build" --target seqc codegen-dump >/dev/null
rm -rf "$out"
mkdir -p "$out/dump" "$out/cli"
# The NVRTC cache would hide nothing (same source, same PTX) but keep it out
# of the way.
export SEQC_CUDA_CACHE_DIR=off
# The CPU JIT's object cache (docs/cache.md): emit and compile never read it,
# and nothing here should read or fill the user's.
export SEQC_CACHE_DIR=off
"$build/tests/tools/codegen-dump" "$out/dump" "${dumpflags[@]}"

# The suite and the examples through the command line. Large models go to
# objects (their assembly would spell out every weight).
small=(tests/bench/lecture.nn tests/bench/digits.nn tests/bench/narrow.nn
       examples/lecture/mynet.nn examples/lecture/sigmoid.nn
       examples/lecture/mynet_inline.nn examples/app/digits.nn)
large=(tests/bench/mnist.nn tests/bench/speech.nn tests/bench/shallow.nn)
[ $quick = 1 ] && large=()
goldens=()
for f in "$root"/tests/golden/*.nn; do goldens+=("tests/golden/$(basename "$f")"); done
cli() { # name, command...
  local name=$1; shift
  if ! (cd "$root" && "$@") >"$out/cli/$name" 2>"$out/cli/$name.err"; then
    echo "exit $?" >>"$out/cli/$name.err"
  fi
}
seedFor() { case "$1" in tests/bench/*) echo "--init-seed 1" ;; *) echo "" ;; esac; }
for nn in "${small[@]}" "${goldens[@]}"; do
  tag=$(echo "$nn" | tr '/' '_')
  seed=$(seedFor "$nn")
  cpus=(x86-64-v4 x86-64-v3 x86-64-v2 sapphirerapids)
  [ $quick = 1 ] && cpus=(x86-64-v4)
  for cpu in "${cpus[@]}"; do
    cli "$tag.$cpu.s" "$seqc" emit "$nn" $seed --target cpu --format asm --cpu $cpu
  done
  cli "$tag.v4-fast.s" "$seqc" emit "$nn" $seed --target cpu --format asm --cpu x86-64-v4 --fast-math
  cli "$tag.a64.s" "$seqc" emit "$nn" $seed --target cpu --format asm --target-triple aarch64-linux-gnu
  cli "$tag.ll" "$seqc" emit "$nn" $seed --target cpu --format llvm --cpu x86-64-v4
  for p in f32 bf16 f16; do
    cli "$tag.$p.cu" "$seqc" emit "$nn" $seed --target cuda --format cuda --precision $p
    [ $ptx = 1 ] && cli "$tag.$p.ptx" "$seqc" emit "$nn" $seed --target cuda --format ptx --precision $p
  done
done
for nn in "${small[@]}" ${large[@]+"${large[@]}"}; do
  tag=$(echo "$nn" | tr '/' '_')
  seed=$(seedFor "$nn")
  for cpu in x86-64-v4 x86-64-v3; do
    (cd "$root" && "$seqc" compile "$nn" $seed --target cpu --cpu $cpu \
       --name model -o "$out/cli/$tag.$cpu") >/dev/null
  done
  (cd "$root" && "$seqc" compile "$nn" $seed --target cpu --cpu x86-64-v4 \
     --external-weights --name model -o "$out/cli/$tag.ext") >/dev/null
  (cd "$root" && "$seqc" compile "$nn" $seed --target cuda --name model \
     -o "$out/cli/$tag.cuda") >/dev/null
done
for nn in ${large[@]+"${large[@]}"}; do
  tag=$(echo "$nn" | tr '/' '_')
  for p in f32 bf16; do
    cli "$tag.$p.cu" "$seqc" emit "$nn" --init-seed 1 --target cuda --format cuda --precision $p
  done
done
# Large objects and weights are hashed and removed, so a dump stays small.
find "$out/cli" -type f -size +4M | while read -r f; do
  md5sum <"$f" | cut -c1-32 >"$f.md5"; rm "$f"
done
(cd "$out" && find dump cli -type f | LC_ALL=C sort | xargs md5sum >md5.txt)
echo "$(wc -l <"$out/md5.txt") files; md5 of the list: $(md5sum <"$out/md5.txt" | cut -c1-32)"
