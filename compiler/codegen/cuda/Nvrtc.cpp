//===- Nvrtc.cpp - Compile CUDA C++ to CUBIN and PTX with NVRTC -----------===//

#include "compiler/codegen/cuda/Nvrtc.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/ObjectCache.h"
#include "compiler/support/Sha256.h"

#include <fmt/format.h>
#include <nvrtc.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>

namespace seqc::cuda {

namespace {

/// What the on-disk entries hold; a change of layout changes the key.
constexpr std::string_view kCacheFormat = "seqc nvrtc cache v2";

/// The key of a compile: NVRTC's version, what is wanted, the flags and the
/// source.
Sha256Digest cacheKey(const std::string &source,
                      const std::vector<std::string> &flags, bool wantPtx) {
  Sha256 h;
  auto text = [&](std::string_view t) {
    h.updateU64(t.size());
    h.update(t);
  };
  text(kCacheFormat);
  text(nvrtcVersionString());
  h.updateU64(wantPtx);
  h.updateU64(flags.size());
  for (const std::string &f : flags)
    text(f);
  text(source);
  return h.digest();
}

std::mutex cacheMutex;
/// This process's compiles, by directory and key: a process that compiles
/// one program twice (bench's warm compile) does not read the disk again.
std::map<std::pair<std::string, Sha256Digest>, NvrtcOutput> memoryCache;

/// Reads the entry for \p key: the CUBIN and the PTX, each length-prefixed.
/// ObjectCache checks the entry's checksum, so a damaged one is removed and
/// compiled again, never loaded onto the GPU.
bool readCached(const ObjectCache &cache, const Sha256Digest &key,
                NvrtcOutput &out, bool wantPtx) {
  std::string payload;
  if (cache.load(key, payload) != ObjectCache::Outcome::Hit)
    return false;
  size_t at = 0;
  NvrtcOutput read;
  if (!readLengthPrefixed(payload, at, read.cubin) ||
      !readLengthPrefixed(payload, at, read.ptx) || at != payload.size() ||
      read.cubin.empty() || (wantPtx && read.ptx.empty()))
    return false;
  read.fromCache = true;
  out = std::move(read);
  return true;
}

void writeCached(const ObjectCache &cache, const Sha256Digest &key,
                 const NvrtcOutput &out) {
  std::string payload;
  appendLengthPrefixed(payload, out.cubin);
  appendLengthPrefixed(payload, out.ptx);
  // The cache is an optimisation: a directory that cannot be written only
  // costs the next run a compile.
  std::string error;
  cache.store(key, payload, error);
}

} // namespace

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  return fmt::format("{}.{}", major, minor);
}

std::vector<int> nvrtcSupportedArchs() {
  int count = 0;
  if (nvrtcGetNumSupportedArchs(&count) != NVRTC_SUCCESS || count <= 0)
    return {};
  std::vector<int> archs(static_cast<size_t>(count));
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS)
    return {};
  return archs;
}

std::string defaultCudaCacheDir() {
  if (const char *dir = std::getenv("SEQC_CUDA_CACHE_DIR")) {
    std::string value = dir;
    return value == "off" || value == "0" ? std::string() : value;
  }
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return joinPath(xdg, "seqc/cuda");
  if (const char *home = std::getenv("HOME"); home && *home)
    return joinPath(home, ".cache/seqc/cuda");
  return "";
}

bool compileCuda(const std::string &source, const NvrtcOptions &options,
                 NvrtcOutput &output, std::string &error) {
  output = NvrtcOutput();
  std::vector<int> archs = nvrtcSupportedArchs();
  bool supported = false;
  std::string list;
  for (int a : archs) {
    supported |= a == options.arch.number();
    list += fmt::format("{}sm_{}", list.empty() ? "" : ", ", a);
  }
  if (!supported) {
    error = fmt::format("NVRTC {} cannot compile for {} (it supports {})",
                        nvrtcVersionString(), options.arch.smName(), list);
    return false;
  }

  std::vector<std::string> flags = {
      "--gpu-architecture=" + options.arch.smName(), "-std=c++17"};
  if (options.fastMath)
    flags.push_back("--use_fast_math");
  const Sha256Digest digest = cacheKey(source, flags, options.wantPtx);
  const auto key = std::make_pair(options.cacheDir, digest);
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = memoryCache.find(key);
    if (it != memoryCache.end()) {
      output = it->second;
      output.fromCache = true;
      return true;
    }
  }
  const ObjectCache cache(options.cacheDir, ObjectCache::defaultMaxBytes());
  if (cache.enabled() && readCached(cache, digest, output, options.wantPtx)) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    memoryCache[key] = output;
    return true;
  }

  nvrtcProgram program;
  nvrtcResult result =
      nvrtcCreateProgram(&program, source.c_str(), options.sourceName.c_str(),
                         0, nullptr, nullptr);
  if (result != NVRTC_SUCCESS) {
    error = fmt::format("nvrtcCreateProgram failed: {}",
                        nvrtcGetErrorString(result));
    return false;
  }
  std::vector<const char *> argv;
  for (const std::string &f : flags)
    argv.push_back(f.c_str());
  result =
      nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(program, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n'))
    log.pop_back();
  if (result != NVRTC_SUCCESS) {
    error =
        fmt::format("NVRTC failed to compile the generated CUDA for {} "
                    "({}):\n{}",
                    options.arch.smName(), nvrtcGetErrorString(result), log);
    nvrtcDestroyProgram(&program);
    return false;
  }
  output.log = log;
  size_t size = 0;
  result = nvrtcGetCUBINSize(program, &size);
  if (result == NVRTC_SUCCESS && size) {
    output.cubin.resize(size);
    result = nvrtcGetCUBIN(program, output.cubin.data());
  }
  if (result == NVRTC_SUCCESS && options.wantPtx) {
    result = nvrtcGetPTXSize(program, &size);
    if (result == NVRTC_SUCCESS) {
      output.ptx.resize(size);
      result = nvrtcGetPTX(program, output.ptx.data());
      while (!output.ptx.empty() && output.ptx.back() == '\0')
        output.ptx.pop_back();
    }
  }
  nvrtcDestroyProgram(&program);
  if (result != NVRTC_SUCCESS || output.cubin.empty()) {
    error = fmt::format("NVRTC produced no CUBIN for {}: {}",
                        options.arch.smName(), nvrtcGetErrorString(result));
    return false;
  }
  if (cache.enabled())
    writeCached(cache, digest, output);
  std::lock_guard<std::mutex> lock(cacheMutex);
  memoryCache[key] = output;
  return true;
}

} // namespace seqc::cuda
