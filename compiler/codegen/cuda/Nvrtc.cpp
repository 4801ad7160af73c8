//===- Nvrtc.cpp - Compile CUDA C++ to CUBIN and PTX with NVRTC -----------===//

#include "compiler/codegen/cuda/Nvrtc.h"

#include "compiler/support/FileIO.h"

#include <fmt/format.h>
#include <nvrtc.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

namespace seqc::cuda {

namespace {

/// Two independent 64-bit FNV-1a style hashes, printed as 32 hex digits.
std::string hashKey(const std::string &text) {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (unsigned char c : text) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ c) * 0x00000100000001b3ull + 0x9e3779b97f4a7c15ull;
    b ^= b >> 29;
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

std::mutex cacheMutex;
std::map<std::string, NvrtcOutput> memoryCache;

bool readCached(const std::string &dir, const std::string &key,
                NvrtcOutput &out, bool wantPtx) {
  std::string error;
  auto cubin = readFile(joinPath(dir, key + ".cubin"), 1ull << 31, error);
  if (!cubin)
    return false;
  if (wantPtx) {
    auto ptx = readFile(joinPath(dir, key + ".ptx"), 1ull << 31, error);
    if (!ptx)
      return false;
    out.ptx = std::move(*ptx);
  }
  out.cubin = std::move(*cubin);
  out.fromCache = true;
  return true;
}

void writeCached(const std::string &dir, const std::string &key,
                 const NvrtcOutput &out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return; // the cache is an optimisation; failing to write it is fine
  std::string error;
  if (!out.ptx.empty())
    writeFileAtomic(joinPath(dir, key + ".ptx"), out.ptx, error);
  writeFileAtomic(joinPath(dir, key + ".cubin"), out.cubin, error);
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
  std::string key = hashKey(
      nvrtcVersionString() + "\n" + (options.wantPtx ? "ptx\n" : "cubin\n") +
      fmt::format("{}\n", fmt::join(flags, " ")) + source);
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = memoryCache.find(key);
    if (it != memoryCache.end()) {
      output = it->second;
      output.fromCache = true;
      return true;
    }
  }
  if (!options.cacheDir.empty() &&
      readCached(options.cacheDir, key, output, options.wantPtx)) {
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
  if (!options.cacheDir.empty())
    writeCached(options.cacheDir, key, output);
  std::lock_guard<std::mutex> lock(cacheMutex);
  memoryCache[key] = output;
  return true;
}

} // namespace seqc::cuda
