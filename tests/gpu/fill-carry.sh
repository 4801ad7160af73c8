#!/usr/bin/env bash
# Copies the headers the GPU machine lacks (fmt, doctest) into .carry/ at the
# repository root, with a CMake package file that makes fmt header-only, and
# keeps .carry/ out of git. Run here (not on the GPU machine) before a device
# run that names `.carry` in `carry`:   tests/gpu/fill-carry.sh
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
carry=$root/.carry
mkdir -p "$carry/include" "$carry/lib/cmake/fmt"
for dir in fmt doctest; do
  src=/usr/include/$dir
  [ -d "$src" ] || { echo "fill-carry: $src is missing here" >&2; exit 1; }
  rm -rf "${carry:?}/include/$dir"
  cp -r "$src" "$carry/include/$dir"
done
cat > "$carry/lib/cmake/fmt/fmt-config.cmake" <<'CMAKE'
# Header-only fmt for machines without libfmt-dev (seqc's device runs).
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  get_filename_component(_seqc_carry "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  set_target_properties(fmt::fmt PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_seqc_carry}/include"
    INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
endif()
set(fmt_FOUND TRUE)
CMAKE
exclude=$root/.git/info/exclude
grep -qx '/.carry/' "$exclude" 2>/dev/null || echo '/.carry/' >> "$exclude"
du -sh "$carry"
