#!/usr/bin/env bash
# Installs what seqc needs to build and test on Debian 12 (as root). Safe to
# run again: packages already present are left alone.
set -euo pipefail
# clang + libclang-rt: the libFuzzer targets; the aarch64 cross gcc and
# qemu-user: the cross-compiled CPU object is linked and run under emulation;
# libonnx-dev + libprotobuf-dev: reading .onnx models; graphviz and
# libxml2-utils: seqc view's SVG/HTML pictures and their checks; chromium:
# the headless screenshot of seqc bench's profile page (bench.profile_screenshot,
# label browser).
packages=(cmake ninja-build g++ ccache python3 llvm-19-dev libfmt-dev doctest-dev
          clang libclang-rt-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross
          qemu-user libonnx-dev libprotobuf-dev graphviz libxml2-utils
          chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
