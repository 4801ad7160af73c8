//===- CudaCodegen.cpp - Fused IR to CUDA C++ kernels ---------------------===//
//
// Part of seqc. See CudaCodegen.h for the two strategies. The emitted source
// is the prelude (CudaPrelude.cpp: templated device helpers) followed by one
// short kernel per launch that instantiates those helpers with the model's
// compile-time shapes, parameter offsets and activation functors.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cuda/CudaCodegen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

namespace seqc::cuda {

//===----------------------------------------------------------------------===//
// Small utilities
//===----------------------------------------------------------------------===//

std::optional<Precision> parsePrecision(const std::string &text) {
  if (text.empty() || text == "f32" || text == "fp32" || text == "float32")
    return Precision::F32;
  if (text == "bf16" || text == "bfloat16")
    return Precision::BF16;
  if (text == "f16" || text == "fp16" || text == "float16")
    return Precision::F16;
  return std::nullopt;
}

const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::F16:
    return "f16";
  }
  return "f32";
}

const char *strategyName(Strategy strategy) {
  switch (strategy) {
  case Strategy::Auto:
    return "auto";
  case Strategy::Fused:
    return "fused";
  case Strategy::Layered:
    return "layered";
  }
  return "auto";
}

std::string GpuArch::smName() const {
  return fmt::format("sm_{}{}", number(), archSpecific ? "a" : "");
}

std::string GpuArch::computeName() const {
  return fmt::format("compute_{}{}", number(), archSpecific ? "a" : "");
}

uint32_t GpuArch::maxSharedBytes() const {
  // Opt-in maximum per block. Kernels compiled for one architecture also
  // run (through PTX) on newer GPUs, some of which (sm_86, sm_89, sm_120)
  // allow only 99 KiB, so the budget never exceeds that.
  const uint32_t portable = 101376;
  switch (number()) {
  case 75:
    return 65536;
  default:
    return portable;
  }
}

std::optional<GpuArch> parseGpuArch(const std::string &text) {
  std::string digits = text;
  if (digits.rfind("sm_", 0) == 0 || digits.rfind("compute_", 0) == 0)
    digits = digits.substr(digits.find('_') + 1);
  GpuArch arch;
  if (!digits.empty() && (digits.back() == 'a' || digits.back() == 'f')) {
    arch.archSpecific = true;
    digits.pop_back();
  }
  if (digits.size() < 2 || digits.size() > 3 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int value = std::stoi(digits);
  arch.major = value / 10;
  arch.minor = value % 10;
  if (arch.major < 3)
    return std::nullopt;
  return arch;
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u); // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float bf16ToFloat(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7e00u); // NaN
  if (abs >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u); // rounds to infinity
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24. Scaling
    // by 2^24 is exact, and nearbyint rounds to nearest even.
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    auto units = static_cast<uint32_t>(std::nearbyint(magnitude * 16777216.0f));
    return static_cast<uint16_t>(sign | units);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  rounded -= 112u << 23; // exponent bias 127 -> 15
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

float f16ToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -value : value;
  }
  uint32_t wide;
  if (exponent == 31)
    wide = sign | 0x7f800000u | (mantissa << 13);
  else
    wide = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  std::memcpy(&value, &wide, 4);
  return value;
}

namespace {

/// Layered Dense layers run the small-batch kernel (seqc_gemv, 16 rows per
/// block, weights read once per 16 rows) up to this batch and the 128x128
/// tiled GEMM above it: at 64 rows a 128x128 tile leaves most SMs idle (the
/// mnist 784-512 layer made 4 blocks; 189 us at batch 64 on an H200 against
/// 13 us at batch 1), while re-reading the weights 4 times costs little.
constexpr uint64_t kGemvMaxBatch = 64;

int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// A float literal CUDA accepts: `0.0099999998f`, `SEQC_INFINITY`.
std::string floatLiteral(double value) {
  if (std::isnan(value))
    return "__int_as_float(0x7fc00000)";
  if (std::isinf(value))
    return value > 0 ? "SEQC_INFINITY" : "(-SEQC_INFINITY)";
  float f = static_cast<float>(value);
  if (std::isinf(f))
    return f > 0 ? "SEQC_INFINITY" : "(-SEQC_INFINITY)";
  std::string text = fmt::format("{:.9g}", f);
  if (text.find_first_of(".eE") == std::string::npos)
    text += ".0";
  return text + "f";
}

/// The CUDA expression of activation \p act applied to `x`.
std::string activationBody(const ir::Activation &act) {
  using ir::ActKind;
  const std::string alpha = floatLiteral(act.alpha);
  const std::string beta = floatLiteral(act.beta);
  switch (act.kind) {
  case ActKind::None:
    return "x";
  case ActKind::ReLU:
    return "(x > 0.0f || isnan(x)) ? x : 0.0f";
  case ActKind::Sigmoid:
    return "1.0f / (1.0f + expf(-x))";
  case ActKind::Tanh:
    return "tanhf(x)";
  case ActKind::GELU:
    return "0.5f * x * (1.0f + erff(x * 0.707106781f))";
  case ActKind::GELUTanh:
    return "0.5f * x * (1.0f + tanhf(0.797884561f * (x + 0.044715f * x * x * "
           "x)))";
  case ActKind::SiLU:
    return "x * (1.0f / (1.0f + expf(-x)))";
  case ActKind::LeakyReLU:
    return fmt::format("x > 0.0f ? x : x * {}", alpha);
  case ActKind::ELU:
    return fmt::format("x > 0.0f ? x : {} * expm1f(x)", alpha);
  case ActKind::Softplus:
    // alpha is the threshold, beta the scale (PyTorch's beta, threshold).
    return fmt::format("{0} * x > {1} ? x : log1pf(expf({0} * x)) / {0}", beta,
                       alpha);
  case ActKind::Hardtanh:
    return fmt::format("isnan(x) ? x : (x < {0} ? {0} : (x > {1} ? {1} : x))",
                       alpha, beta);
  case ActKind::Hardsigmoid:
    return "seqc_clamp6(x + 3.0f) / 6.0f";
  case ActKind::Hardswish:
    return "x * seqc_clamp6(x + 3.0f) / 6.0f";
  case ActKind::Mish:
    return "x * tanhf(log1pf(expf(x)))";
  }
  return "x";
}

std::string identifierFrom(std::string text) {
  for (char &c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      c = '_';
  return text;
}

/// A C comment-safe one-line description of an op.
std::string describeOp(const ir::Op &op) {
  std::string text;
  switch (op.kind) {
  case ir::OpKind::Dense:
  case ir::OpKind::Linear:
    text = fmt::format("dense {} -> {}", op.inFeatures, op.outFeatures);
    if (!op.act.isNone())
      text += ", " + op.act.str();
    if (op.rowNorm == ir::RowNorm::Softmax)
      text += ", softmax";
    if (op.rowNorm == ir::RowNorm::LogSoftmax)
      text += ", log_softmax";
    if (op.bias == ir::kNoParam)
      text += ", no bias";
    break;
  case ir::OpKind::Act:
    text = "activation " + op.act.str();
    break;
  default:
    text = std::string(ir::opName(op.kind));
    break;
  }
  if (!op.description.empty())
    text += fmt::format(" [{}{}{}]", op.path, op.path.empty() ? "" : ": ",
                        op.description);
  std::string safe;
  for (char c : text)
    safe += (c == '*' || c == '/' || c == '\n') ? ' ' : c;
  return safe;
}

/// The parameters of the model, packed into one blob.
class ParamPacker {
public:
  uint64_t align(uint64_t alignment) {
    while (bytes.size() % alignment)
      bytes.push_back(0);
    return bytes.size();
  }
  uint64_t floats(const std::vector<float> &values, uint64_t alignment = 16) {
    uint64_t offset = align(alignment);
    append(values.data(), values.size() * 4);
    return offset;
  }
  uint64_t halves(const std::vector<uint16_t> &values,
                  uint64_t alignment = 16) {
    uint64_t offset = align(alignment);
    append(values.data(), values.size() * 2);
    return offset;
  }
  std::vector<uint8_t> bytes;

private:
  void append(const void *data, size_t size) {
    const auto *p = static_cast<const uint8_t *>(data);
    bytes.insert(bytes.end(), p, p + size);
  }
};

/// An op normalised for emission: Linear is Dense without activation,
/// BatchNorm is an Affine with folded scale and shift, Identity vanishes.
struct Stage {
  ir::OpKind kind = ir::OpKind::Identity; // Dense, Act, Softmax, LogSoftmax,
                                          // LayerNorm or Affine
  int64_t in = 0;
  int64_t out = 0;
  ir::Activation act;
  ir::RowNorm rowNorm = ir::RowNorm::None;
  double eps = 0.0;
  const std::vector<float> *weight = nullptr; // Dense [out,in], LN, Affine
  const std::vector<float> *bias = nullptr;
  std::vector<float> foldedScale, foldedShift; // BatchNorm as Affine
  std::string comment;
};

bool buildStages(const ir::Model &model, std::vector<Stage> &stages,
                 std::string &error) {
  auto data = [&](ir::ParamId id) -> const std::vector<float> * {
    return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
  };
  for (const ir::Op &op : model.ops) {
    Stage s;
    s.in = model.values[op.input].type.features();
    s.out = model.values[op.result].type.features();
    s.comment = describeOp(op);
    switch (op.kind) {
    case ir::OpKind::Identity:
      continue;
    case ir::OpKind::Linear:
    case ir::OpKind::Dense:
      s.kind = ir::OpKind::Dense;
      s.in = op.inFeatures;
      s.out = op.outFeatures;
      if (op.kind == ir::OpKind::Dense) {
        s.act = op.act;
        s.rowNorm = op.rowNorm;
      }
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      if (!s.weight) {
        error = fmt::format("layer {} has no weight", s.comment);
        return false;
      }
      break;
    case ir::OpKind::Act:
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      s.kind = op.kind;
      s.act = op.act;
      break;
    case ir::OpKind::LayerNorm:
      s.kind = op.kind;
      s.eps = op.eps;
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      break;
    case ir::OpKind::Affine:
      s.kind = op.kind;
      s.weight = data(op.weight);
      s.bias = data(op.bias);
      if (!s.weight) {
        error = fmt::format("layer {} has no scale", s.comment);
        return false;
      }
      break;
    case ir::OpKind::BatchNorm: {
      s.kind = ir::OpKind::Affine;
      const std::vector<float> *w = data(op.weight), *b = data(op.bias);
      const std::vector<float> *mean = data(op.runningMean);
      const std::vector<float> *var = data(op.runningVar);
      if (!mean || !var) {
        error = fmt::format("layer {} has no running statistics", s.comment);
        return false;
      }
      for (int64_t c = 0; c < s.out; ++c) {
        double scale = (w ? (*w)[c] : 1.0) / std::sqrt((*var)[c] + op.eps);
        s.foldedScale.push_back(static_cast<float>(scale));
        s.foldedShift.push_back(
            static_cast<float>((b ? (*b)[c] : 0.0) - (*mean)[c] * scale));
      }
      s.weight = &s.foldedScale;
      s.bias = &s.foldedShift;
      break;
    }
    }
    stages.push_back(std::move(s));
  }
  // Fix the folded pointers after the vector settled.
  for (Stage &s : stages)
    if (!s.foldedScale.empty()) {
      s.weight = &s.foldedScale;
      s.bias = &s.foldedShift;
    }
  return true;
}

/// Emits activation functors, one per distinct activation.
class ActivationTable {
public:
  /// The functor expression for \p act, e.g. `seqc_act_relu()`.
  std::string use(const ir::Activation &act) {
    if (act.isNone())
      return "seqc_act_none()";
    std::string key = act.str();
    auto it = names.find(key);
    if (it != names.end())
      return it->second + "()";
    std::string name =
        "seqc_act_" + identifierFrom(std::string(ir::actName(act.kind)));
    if (used.count(name))
      name += fmt::format("_{}", names.size());
    used[name] = true;
    names[key] = name;
    definitions += fmt::format(
        "/// {}\nstruct {} {{\n  __device__ __forceinline__ float "
        "operator()(float x) const {{\n    return {};\n  }}\n}};\n\n",
        key, name, activationBody(act));
    return name + "()";
  }
  std::string definitions;

private:
  std::map<std::string, std::string> names;
  std::map<std::string, bool> used;
};

const char *kKernelParams =
    "(const float *__restrict__ x, float *__restrict__ y,\n"
    "    const unsigned char *__restrict__ params, long long batch)";
/// Kernels that may run in place (x == y) must not promise no aliasing.
const char *kKernelParamsAliased =
    "(const float *x, float *y,\n"
    "    const unsigned char *__restrict__ params, long long batch)";

std::string ptr(const char *type, uint64_t offset) {
  return fmt::format("reinterpret_cast<const {} *>(params + {}ull)", type,
                     offset);
}

//===----------------------------------------------------------------------===//
// Fused strategy
//===----------------------------------------------------------------------===//

/// Thread blocking of one fp32 dense layer in the fused kernel.
struct DenseTiling {
  int rm = 1, rn = 1, nc = 1, np = 1;
};

DenseTiling tileDense(int64_t rows, int64_t n) {
  DenseTiling t;
  t.rn = n >= 96 ? 8 : n >= 48 ? 4 : n >= 24 ? 2 : 1;
  t.nc = static_cast<int>((n + t.rn - 1) / t.rn);
  t.np = t.nc * t.rn;
  while (t.rm < 8 && rows % (t.rm * 2) == 0 &&
         (rows / (t.rm * 2)) * t.nc >= 256)
    t.rm *= 2;
  return t;
}

std::vector<float> paddedCopy(const std::vector<float> *src, size_t size) {
  std::vector<float> out(size, 0.0f);
  if (src)
    std::copy(src->begin(), src->begin() + std::min(size, src->size()),
              out.begin());
  return out;
}

/// Emits the fp32 fused kernel; returns false (with a reason) if it does not
/// fit in shared memory.
bool emitFusedF32(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason) {
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  int64_t maxWidth = inWidth;
  for (const Stage &s : stages)
    maxWidth = std::max({maxWidth, s.in, s.out});
  const int64_t ld = maxWidth % 2 ? maxWidth : maxWidth + 1;
  const uint32_t budget = options.arch.maxSharedBytes();

  // Parameters are laid out for shared memory; the tiling (and so the
  // padding) does not depend on the row count for R >= 16.
  for (int64_t rows : {64, 32, 16}) {
    ParamPacker pack;
    std::string setup, loop;
    std::vector<DenseTiling> tilings;
    for (size_t i = 0; i < stages.size(); ++i) {
      const Stage &s = stages[i];
      switch (s.kind) {
      case ir::OpKind::Dense: {
        DenseTiling t = tileDense(rows, s.out);
        std::vector<float> wt(static_cast<size_t>(s.in * t.np), 0.0f);
        for (int64_t n = 0; n < s.out; ++n)
          for (int64_t k = 0; k < s.in; ++k)
            wt[k * t.np + n] = (*s.weight)[n * s.in + k];
        uint64_t w = pack.floats(wt);
        setup +=
            fmt::format("  const float *w{0} = smem + {1}; // W^T [{2}][{3}]\n",
                        i, w / 4, s.in, t.np);
        if (s.bias) {
          uint64_t b = pack.floats(paddedCopy(s.bias, t.np));
          setup += fmt::format("  const float *b{} = smem + {};\n", i, b / 4);
        }
        tilings.push_back(t);
        break;
      }
      case ir::OpKind::LayerNorm:
      case ir::OpKind::Affine:
        if (s.weight)
          setup += fmt::format("  const float *w{} = smem + {};\n", i,
                               pack.floats(*s.weight) / 4);
        if (s.bias)
          setup += fmt::format("  const float *b{} = smem + {};\n", i,
                               pack.floats(*s.bias) / 4);
        break;
      default:
        break;
      }
    }
    const uint64_t paramBytes = pack.align(16);
    const uint64_t shared = paramBytes + 2 * rows * ld * 4;
    if (shared > budget) {
      reason = fmt::format("the fused fp32 kernel needs {} bytes of shared "
                           "memory ({} of parameters), more than the {} of "
                           "{}",
                           shared, paramBytes, budget, options.arch.smName());
      continue;
    }

    // The tile loop: activations ping-pong between buf0 and buf1.
    int cur = 0;
    size_t tiling = 0;
    loop += fmt::format("    seqc_block_load_rows<{}, {}, {}>(buf0, x, row0, "
                        "batch);\n    __syncthreads();\n",
                        rows, inWidth, ld);
    for (size_t i = 0; i < stages.size(); ++i) {
      const Stage &s = stages[i];
      loop += fmt::format("    // {}: {}\n", i, s.comment);
      switch (s.kind) {
      case ir::OpKind::Dense: {
        const DenseTiling &t = tilings[tiling++];
        loop += fmt::format(
            "    seqc_block_dense_f32<{}, {}, {}, {}, {}, {}, {}, {}, {}>("
            "buf{}, buf{}, w{}, {}, {});\n",
            rows, s.in, s.out, t.np, ld, ld, t.rm, t.rn,
            s.bias ? "true" : "false", cur, 1 - cur, i,
            s.bias ? fmt::format("b{}", i) : "nullptr", acts.use(s.act));
        cur = 1 - cur;
        if (s.rowNorm != ir::RowNorm::None) {
          loop += "    __syncthreads();\n";
          loop += fmt::format(
              "    seqc_block_softmax<{}, {}, {}, {}>(buf{});\n", rows, s.out,
              ld, s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false", cur);
        }
        break;
      }
      case ir::OpKind::Act:
        loop += fmt::format("    seqc_block_act<{}, {}, {}>(buf{}, {});\n",
                            rows, s.out, ld, cur, acts.use(s.act));
        break;
      case ir::OpKind::Softmax:
      case ir::OpKind::LogSoftmax:
        loop += fmt::format(
            "    seqc_block_softmax<{}, {}, {}, {}>(buf{});\n", rows, s.out, ld,
            s.kind == ir::OpKind::LogSoftmax ? "true" : "false", cur);
        break;
      case ir::OpKind::LayerNorm:
        loop += fmt::format("    seqc_block_layernorm<{}, {}, {}, {}, "
                            "{}>(buf{}, {}, {}, {});\n",
                            rows, s.out, ld, s.weight ? "true" : "false",
                            s.bias ? "true" : "false", cur,
                            s.weight ? fmt::format("w{}", i) : "nullptr",
                            s.bias ? fmt::format("b{}", i) : "nullptr",
                            floatLiteral(s.eps));
        break;
      case ir::OpKind::Affine:
        loop += fmt::format("    seqc_block_affine<{}, {}, {}, {}>(buf{}, w{}, "
                            "{});\n",
                            rows, s.out, ld, s.bias ? "true" : "false", cur, i,
                            s.bias ? fmt::format("b{}", i) : "nullptr");
        break;
      default:
        assert(false && "unexpected stage");
      }
      loop += "    __syncthreads();\n";
    }
    loop += fmt::format("    seqc_block_store_rows<{}, {}, {}>(buf{}, y, row0, "
                        "batch);\n    __syncthreads();\n",
                        rows, outWidth, ld, cur);

    const uint32_t perSm = static_cast<uint32_t>(
        std::clamp<uint64_t>(232448 / std::max<uint64_t>(shared, 1), 1, 4));
    body += fmt::format(
        "/// The whole network, fp32: a block of 256 threads owns {0} rows at "
        "a\n/// time; parameters ({1} bytes) stay in shared memory.\n"
        "extern \"C\" __global__ void __launch_bounds__(256)\nseqc_fused{2} "
        "{{\n"
        "  float *smem = reinterpret_cast<float *>(seqc_shared_memory());\n"
        "  {{\n"
        "    const float4 *src = reinterpret_cast<const float4 *>(params);\n"
        "    float4 *dst = reinterpret_cast<float4 *>(smem);\n"
        "    for (int i = threadIdx.x; i < {3}; i += blockDim.x)\n"
        "      dst[i] = src[i];\n"
        "  }}\n"
        "{4}"
        "  float *buf0 = smem + {5};\n"
        "  float *buf1 = buf0 + {6};\n"
        "  __syncthreads();\n"
        "  for (long long row0 = (long long)blockIdx.x * {0}; row0 < batch;\n"
        "       row0 += (long long)gridDim.x * {0}) {{\n"
        "{7}"
        "  }}\n"
        "}}\n",
        rows, paramBytes, kKernelParams, paramBytes / 16, setup, paramBytes / 4,
        rows * ld, loop);
    KernelLaunch launch;
    launch.kernel = "seqc_fused";
    launch.threads = 256;
    launch.sharedBytes = static_cast<uint32_t>(shared);
    launch.rowsPerBlock = static_cast<uint32_t>(rows);
    launch.blocksPerSm = perSm;
    launch.input = 0;
    launch.output = 1;
    program.launches.push_back(launch);
    program.params = std::move(pack.bytes);
    return true;
  }
  return false;
}

/// Emits the tensor-core fused kernel (bf16/f16); false if it does not fit.
bool emitFusedMma(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason) {
  const bool bf16 = options.precision == Precision::BF16;
  const char *bf = bf16 ? "true" : "false";
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  const uint32_t budget = options.arch.maxSharedBytes();
  ParamPacker pack;
  std::string setup, loop;

  int h = 0;                             // current fragment array
  int64_t width = inWidth;               // its valid columns
  int64_t padded = roundUp(inWidth, 16); // its padded columns
  loop += fmt::format("    float h0[{}][4];\n    seqc_warp_load_rows<{}, {}>("
                      "h0, x, row0, batch, lane);\n",
                      padded / 8, inWidth, padded);
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    loop += fmt::format("    // {}: {}\n", i, s.comment);
    switch (s.kind) {
    case ir::OpKind::Dense: {
      const int64_t kp = roundUp(s.in, 16), np = roundUp(s.out, 16);
      const int64_t ldw = kp + 8;
      std::vector<uint16_t> w(static_cast<size_t>(np * ldw), 0);
      for (int64_t n = 0; n < s.out; ++n)
        for (int64_t k = 0; k < s.in; ++k) {
          float v = (*s.weight)[n * s.in + k];
          w[n * ldw + k] = bf16 ? floatToBf16(v) : floatToF16(v);
        }
      uint64_t wOff = pack.halves(w);
      setup +=
          fmt::format("  const unsigned short *w{0} = reinterpret_cast<"
                      "const unsigned short *>(smem + {1}); // W [{2}][{3}]\n",
                      i, wOff, np, ldw);
      if (s.bias) {
        uint64_t bOff = pack.floats(paddedCopy(s.bias, np));
        setup += fmt::format("  const float *b{0} = reinterpret_cast<const "
                             "float *>(smem + {1});\n",
                             i, bOff);
      }
      loop += fmt::format("    float h{}[{}][4];\n", h + 1, np / 8);
      loop += fmt::format("    seqc_warp_dense_mma<{}, {}, {}, {}, {}>(h{}, "
                          "h{}, w{}, lane);\n",
                          s.in, kp, np, ldw, bf, h, h + 1, i);
      ++h;
      width = s.out;
      padded = np;
      if (s.bias || !s.act.isNone())
        loop += fmt::format(
            "    seqc_frag_bias_act<{}, {}, {}>(h{}, {}, {}, lane);\n", width,
            padded, s.bias ? "true" : "false", h,
            s.bias ? fmt::format("b{}", i) : "nullptr", acts.use(s.act));
      if (s.rowNorm != ir::RowNorm::None)
        loop += fmt::format(
            "    seqc_frag_softmax<{}, {}, {}>(h{}, lane);\n", width, padded,
            s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false", h);
      break;
    }
    case ir::OpKind::Act:
      loop += fmt::format(
          "    seqc_frag_bias_act<{}, {}, false>(h{}, nullptr, {}, lane);\n",
          width, padded, h, acts.use(s.act));
      break;
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      loop += fmt::format(
          "    seqc_frag_softmax<{}, {}, {}>(h{}, lane);\n", width, padded,
          s.kind == ir::OpKind::LogSoftmax ? "true" : "false", h);
      break;
    case ir::OpKind::LayerNorm:
    case ir::OpKind::Affine: {
      std::string w = "nullptr", b = "nullptr";
      if (s.weight) {
        w = fmt::format("w{}", i);
        setup += fmt::format("  const float *w{} = reinterpret_cast<const "
                             "float *>(smem + {});\n",
                             i, pack.floats(*s.weight));
      }
      if (s.bias) {
        b = fmt::format("b{}", i);
        setup += fmt::format("  const float *b{} = reinterpret_cast<const "
                             "float *>(smem + {});\n",
                             i, pack.floats(*s.bias));
      }
      if (s.kind == ir::OpKind::LayerNorm)
        loop += fmt::format(
            "    seqc_frag_layernorm<{}, {}, {}, {}>(h{}, {}, {}, {}, lane);\n",
            width, padded, s.weight ? "true" : "false",
            s.bias ? "true" : "false", h, w, b, floatLiteral(s.eps));
      else
        loop += fmt::format(
            "    seqc_frag_affine<{}, {}, {}>(h{}, {}, {}, lane);\n", width,
            padded, s.bias ? "true" : "false", h, w, b);
      break;
    }
    default:
      assert(false && "unexpected stage");
    }
  }
  loop += fmt::format("    seqc_warp_store_rows<{}, {}>(h{}, y, row0, batch, "
                      "lane);\n",
                      outWidth, padded, h);
  const uint64_t shared = pack.align(16);
  if (shared > budget) {
    reason = fmt::format("the fused {} kernel needs {} bytes of shared memory "
                         "for its parameters, more than the {} of {}",
                         precisionName(options.precision), shared, budget,
                         options.arch.smName());
    return false;
  }
  const uint32_t perSm = static_cast<uint32_t>(
      std::clamp<uint64_t>(232448 / std::max<uint64_t>(shared, 1), 1, 4));
  body += fmt::format(
      "/// The whole network on tensor cores ({0}): each warp owns 16 rows at "
      "a\n/// time and keeps them in registers from layer to layer; weights "
      "({1}\n/// bytes with biases) stay in shared memory.\n"
      "extern \"C\" __global__ void __launch_bounds__(128)\nseqc_fused{2} {{\n"
      "  unsigned char *smem = seqc_shared_memory();\n"
      "  {{\n"
      "    const uint4 *src = reinterpret_cast<const uint4 *>(params);\n"
      "    uint4 *dst = reinterpret_cast<uint4 *>(smem);\n"
      "    for (int i = threadIdx.x; i < {3}; i += blockDim.x)\n"
      "      dst[i] = src[i];\n"
      "  }}\n"
      "{4}"
      "  __syncthreads();\n"
      "  const int lane = threadIdx.x & 31;\n"
      "  for (long long row0 = ((long long)blockIdx.x * 4 + (threadIdx.x >> "
      "5)) * 16;\n"
      "       row0 < batch; row0 += (long long)gridDim.x * 64) {{\n"
      "{5}"
      "  }}\n"
      "}}\n",
      precisionName(options.precision), shared, kKernelParams, shared / 16,
      setup, loop);
  KernelLaunch launch;
  launch.kernel = "seqc_fused";
  launch.threads = 128;
  launch.sharedBytes = static_cast<uint32_t>(shared);
  launch.rowsPerBlock = 64;
  launch.blocksPerSm = perSm;
  program.launches.push_back(launch);
  program.params = std::move(pack.bytes);
  return true;
}

//===----------------------------------------------------------------------===//
// Layered strategy
//===----------------------------------------------------------------------===//

/// A buffer of the plan and how it is laid out.
struct Buffer {
  int id = 0;
  int64_t ld = 0;
};

bool emitLayered(const ir::Model &model, const std::vector<Stage> &stages,
                 const CudaOptions &options, CudaProgram &program,
                 ActivationTable &acts, std::string &body, std::string &error) {
  const bool f32 = options.precision == Precision::F32;
  const bool bf16 = options.precision == Precision::BF16;
  const int wt = f32 ? 0 : bf16 ? 1 : 2;
  const int64_t kAlign = f32 ? 8 : 32;
  const int64_t inWidth = model.inputType().features();
  const int64_t outWidth = model.outputType().features();
  ParamPacker pack;

  // Group stages into steps: one per Dense (+ an in-place softmax step if it
  // has a row norm), one per run of row operations.
  struct Step {
    bool dense = false;
    std::vector<size_t> stages;
    bool inPlaceSoftmax = false; // the row norm of the Dense before it
    int64_t width = 0;           // output features
  };
  std::vector<Step> steps;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage &s = stages[i];
    if (s.kind == ir::OpKind::Dense) {
      steps.push_back({true, {i}, false, s.out});
      if (s.rowNorm != ir::RowNorm::None)
        steps.push_back({false, {i}, true, s.out});
      continue;
    }
    if (steps.empty() || steps.back().dense || steps.back().inPlaceSoftmax)
      steps.push_back({false, {}, false, s.out});
    steps.back().stages.push_back(i);
    steps.back().width = s.out;
  }
  if (steps.empty()) // a model that is the identity: copy
    steps.push_back({false, {}, false, inWidth});

  Buffer current{0, inWidth};
  uint64_t scratch = 0;
  int kernelIndex = 0;
  for (size_t si = 0; si < steps.size(); ++si) {
    const Step &step = steps[si];
    const bool last = si + 1 == steps.size() ||
                      (si + 2 == steps.size() && steps[si + 1].inPlaceSoftmax);
    Buffer out;
    if (step.inPlaceSoftmax) {
      out = current;
    } else if (last) {
      out = {1, outWidth};
    } else {
      out.id = current.id == 2 ? 3 : 2;
      out.ld = roundUp(step.width, 32);
      scratch = std::max<uint64_t>(scratch, out.ld);
    }
    const int xmode = current.id >= 2 || (current.ld % 4 == 0) ? 0 : 1;

    if (step.dense) {
      const size_t i = step.stages.front();
      const Stage &s = stages[i];
      const int64_t kp = roundUp(s.in, kAlign), np = roundUp(s.out, 128);
      if (np / 128 > 65535 || roundUp(std::max(s.out, out.ld), 8) / 8 > 65535) {
        error = fmt::format("layer {} is too wide for the CUDA backend (at "
                            "most {} outputs)",
                            s.comment, 65535 * 8);
        return false;
      }
      uint64_t wOff;
      if (f32) {
        std::vector<float> w(static_cast<size_t>(np * kp), 0.0f);
        for (int64_t n = 0; n < s.out; ++n)
          std::copy(s.weight->begin() + n * s.in,
                    s.weight->begin() + (n + 1) * s.in, w.begin() + n * kp);
        wOff = pack.floats(w, 256);
      } else {
        std::vector<uint16_t> w(static_cast<size_t>(np * kp), 0);
        for (int64_t n = 0; n < s.out; ++n)
          for (int64_t k = 0; k < s.in; ++k) {
            float v = (*s.weight)[n * s.in + k];
            w[n * kp + k] = bf16 ? floatToBf16(v) : floatToF16(v);
          }
        wOff = pack.halves(w, 256);
      }
      std::string bias = "nullptr";
      if (s.bias)
        bias = ptr("float", pack.floats(paddedCopy(s.bias, np), 256));
      const std::string act = acts.use(s.act);
      const std::string name = fmt::format("seqc_l{}", kernelIndex++);
      const std::string shape =
          fmt::format("{}, {}, {}, {}, {}, {}, {}", s.in, kp, current.ld, xmode,
                      s.out, out.ld, s.bias ? "true" : "false");
      body +=
          fmt::format("/// {}: {} (batch > {}: {}-tiled GEMM)\n", si, s.comment,
                      kGemvMaxBatch, f32 ? "128x128 fp32" : "128x128 mma");
      body +=
          fmt::format("extern \"C\" __global__ void __launch_bounds__(256)\n"
                      "{}_gemm{} {{\n",
                      name, kKernelParams);
      if (f32)
        body +=
            fmt::format("  seqc_gemm_f32<{}>(x, y, {}, {}, batch, {});\n}}\n",
                        shape, ptr("float", wOff), bias, act);
      else
        body += fmt::format(
            "  seqc_gemm_mma<{}, {}>(x, y, {}, {}, batch, {});\n}}\n", shape,
            bf16 ? "true" : "false", ptr("unsigned short", wOff), bias, act);
      body += fmt::format(
          "/// {}: the same layer for batches of at most {}\n"
          "extern \"C\" __global__ void __launch_bounds__(128)\n"
          "{}_gemv{} {{\n"
          "  seqc_gemv<{}, {}>(x, y, params + {}ull, {}, batch, "
          "{});\n}}\n\n",
          si, kGemvMaxBatch, name, kKernelParams, shape, wt, wOff, bias, act);
      KernelLaunch gemm;
      gemm.kernel = name + "_gemm";
      gemm.threads = 256;
      gemm.sharedBytes = f32 ? 2 * 2 * 8 * 132 * 4 : 2 * 2 * 128 * 40 * 2;
      gemm.rowsPerBlock = 128;
      gemm.gridY = static_cast<uint32_t>(np / 128);
      gemm.input = current.id;
      gemm.output = out.id;
      gemm.minBatch = kGemvMaxBatch + 1;
      KernelLaunch gemv;
      gemv.kernel = name + "_gemv";
      gemv.threads = 128;
      gemv.rowsPerBlock = 16;
      // Cover the padding columns of the output buffer too (zeros).
      gemv.gridY =
          static_cast<uint32_t>(roundUp(std::max(s.out, out.ld), 8) / 8);
      gemv.input = current.id;
      gemv.output = out.id;
      gemv.minBatch = 1;
      gemv.maxBatch = kGemvMaxBatch;
      program.launches.push_back(gemv);
      program.launches.push_back(gemm);
    } else {
      // Row operations: the first reads the input buffer, the rest work in
      // place on the output row.
      const std::string name = fmt::format("seqc_l{}_rows", kernelIndex++);
      std::string ops;
      std::string src = "in";
      int64_t width = current.ld == inWidth && current.id == 0 ? inWidth : 0;
      for (size_t i : step.stages) {
        const Stage &s = stages[i];
        width = s.out;
        if (step.inPlaceSoftmax) {
          ops += fmt::format("  // {}: row norm of {}\n", si, s.comment);
          ops += fmt::format(
              "  seqc_row_softmax<{}, {}>(in, out, lane);\n", s.out,
              s.rowNorm == ir::RowNorm::LogSoftmax ? "true" : "false");
          src = "out";
          continue;
        }
        ops += fmt::format("  // {}\n", s.comment);
        switch (s.kind) {
        case ir::OpKind::Act:
          ops += fmt::format("  seqc_row_act<{}>({}, out, {}, lane);\n", s.out,
                             src, acts.use(s.act));
          break;
        case ir::OpKind::Softmax:
        case ir::OpKind::LogSoftmax:
          ops += fmt::format(
              "  seqc_row_softmax<{}, {}>({}, out, lane);\n", s.out,
              s.kind == ir::OpKind::LogSoftmax ? "true" : "false", src);
          break;
        case ir::OpKind::LayerNorm:
          ops += fmt::format(
              "  seqc_row_layernorm<{}, {}, {}>({}, out, {}, {}, {}, lane);\n",
              s.out, s.weight ? "true" : "false", s.bias ? "true" : "false",
              src, s.weight ? ptr("float", pack.floats(*s.weight)) : "nullptr",
              s.bias ? ptr("float", pack.floats(*s.bias)) : "nullptr",
              floatLiteral(s.eps));
          break;
        case ir::OpKind::Affine:
          ops += fmt::format(
              "  seqc_row_affine<{}, {}>({}, out, {}, {}, lane);\n", s.out,
              s.bias ? "true" : "false", src,
              ptr("float", pack.floats(*s.weight)),
              s.bias ? ptr("float", pack.floats(*s.bias)) : "nullptr");
          break;
        default:
          assert(false && "unexpected stage");
        }
        ops += "  __syncwarp();\n";
        src = "out";
      }
      if (step.stages.empty()) {
        width = inWidth;
        ops += fmt::format("  seqc_row_copy<{}, {}>(in, out, lane);\n", width,
                           out.ld);
      } else if (out.ld > width) {
        ops += fmt::format("  seqc_row_copy<{}, {}>(out, out, lane);\n", width,
                           out.ld);
      }
      body += fmt::format(
          "/// {}: row operations, one warp per row\n"
          "extern \"C\" __global__ void __launch_bounds__(256)\n{}{} {{\n"
          "  const int lane = threadIdx.x & 31;\n"
          "  const long long row = (long long)blockIdx.x * 8 + (threadIdx.x >> "
          "5);\n"
          "  if (row >= batch)\n"
          "    return;\n"
          "  const float *in = x + row * {};\n"
          "  float *out = y + row * {};\n"
          "{}}}\n\n",
          si, name, kKernelParamsAliased, current.ld, out.ld, ops);
      KernelLaunch rowsLaunch;
      rowsLaunch.kernel = name;
      rowsLaunch.threads = 256;
      rowsLaunch.rowsPerBlock = 8;
      rowsLaunch.input = current.id;
      rowsLaunch.output = out.id;
      rowsLaunch.minBatch = 1;
      program.launches.push_back(rowsLaunch);
    }
    current = out;
  }
  program.scratchFloatsPerRow = scratch;
  pack.align(256);
  program.params = std::move(pack.bytes);
  return true;
}

std::string planComment(const CudaProgram &program) {
  static const char *bufferNames[] = {"x", "y", "scratch0", "scratch1"};
  std::string text = "// Launch plan (replayed as one CUDA graph per batch "
                     "size):\n";
  for (const KernelLaunch &l : program.launches) {
    std::string when;
    if (l.minBatch > 1 || l.maxBatch != UINT64_MAX)
      when = l.maxBatch == UINT64_MAX
                 ? fmt::format(", batch >= {}", l.minBatch)
                 : fmt::format(", batch {}..{}", l.minBatch, l.maxBatch);
    std::string grid = l.blocksPerSm
                           ? fmt::format("min(ceil(batch/{}), {} per SM)",
                                         l.rowsPerBlock, l.blocksPerSm)
                           : fmt::format("ceil(batch/{})", l.rowsPerBlock);
    text += fmt::format("//   {:<16} {} -> {}, grid ({}, {}), {} threads, {} B "
                        "shared{}\n",
                        l.kernel, bufferNames[l.input], bufferNames[l.output],
                        grid, l.gridY, l.threads, l.sharedBytes, when);
  }
  return text;
}

} // namespace

bool emitCudaProgram(const ir::Model &model, const CudaOptions &options,
                     CudaProgram &program, std::string &error) {
  program = CudaProgram();
  program.modelName = model.name;
  program.precision = options.precision;
  program.arch = options.arch;
  program.fastMath = options.fastMath;
  program.inFeatures = static_cast<uint64_t>(model.inputType().features());
  program.outFeatures = static_cast<uint64_t>(model.outputType().features());
  if (options.precision != Precision::F32 && options.arch.number() < 80) {
    error =
        fmt::format("--precision {} uses mma.sync tensor-core "
                    "instructions that need sm_80 or newer, not {}",
                    precisionName(options.precision), options.arch.smName());
    return false;
  }
  for (const ir::Param &p : model.params)
    if (!p.isBound()) {
      error = fmt::format("parameter '{}' has no data", p.name);
      return false;
    }
  std::vector<Stage> stages;
  if (!buildStages(model, stages, error))
    return false;

  int64_t maxWidth = model.inputType().features();
  for (const Stage &s : stages)
    maxWidth = std::max({maxWidth, s.in, s.out});

  ActivationTable acts;
  std::string body;
  bool done = false;
  std::string fusedReason;
  if (options.strategy != Strategy::Layered) {
    if (maxWidth > kFusedMaxWidth) {
      fusedReason = fmt::format("its widest layer has {} features (the fused "
                                "kernel takes at most {})",
                                maxWidth, kFusedMaxWidth);
    } else {
      done = options.precision == Precision::F32
                 ? emitFusedF32(model, stages, options, program, acts, body,
                                fusedReason)
                 : emitFusedMma(model, stages, options, program, acts, body,
                                fusedReason);
    }
    if (done)
      program.strategy = Strategy::Fused;
    else if (options.strategy == Strategy::Fused) {
      error = "the fused CUDA strategy does not fit this model: " + fusedReason;
      return false;
    }
  }
  if (!done) {
    program.launches.clear();
    program.params.clear();
    body.clear();
    if (!emitLayered(model, stages, options, program, acts, body, error))
      return false;
    program.strategy = Strategy::Layered;
  }

  std::string head = fmt::format(
      "// CUDA kernels for model '{}', generated by seqc.\n"
      "// Strategy: {}; precision: {}; target: {}.\n"
      "// Input f32[B,{}] -> output f32[B,{}]; parameters: {} bytes.\n"
      "// Self-contained: compile with NVRTC, -std=c++17, no include path.\n"
      "//\n{}",
      model.name, strategyName(program.strategy),
      precisionName(options.precision), options.arch.smName(),
      program.inFeatures, program.outFeatures, program.params.size(),
      planComment(program));
  program.source =
      head + cudaPrelude() +
      "\n/// clamp(v, 0, 6) as min(max(v, 0), 6) with std::min/max semantics "
      "(NaN stays NaN).\n__device__ __forceinline__ float seqc_clamp6(float "
      "v) {\n  v = v < 0.0f ? 0.0f : v;\n  return 6.0f < v ? 6.0f : v;\n}\n\n" +
      acts.definitions + body;
  return true;
}

} // namespace seqc::cuda
