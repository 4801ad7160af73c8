//===- Internal.h - Shared internals of the CUDA code generator -*- C++ -*-===//
//
// Part of seqc. Private to compiler/codegen/cuda: the model's ops normalised
// into stages, the parameter blob, the activation functors, and the two
// strategies' emitters that CudaCodegen.cpp chooses between.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CODEGEN_CUDA_INTERNAL_H
#define SEQC_CODEGEN_CUDA_INTERNAL_H

#include "compiler/codegen/cuda/CudaCodegen.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace seqc::cuda {

/// Layered Dense layers run the small-batch kernel (seqc_gemv, 16 rows per
/// block, weights read once per 16 rows) up to this batch and the 128x128
/// tiled GEMM above it: at 64 rows a 128x128 tile leaves most SMs idle (the
/// mnist 784-512 layer made 4 blocks; 189 us at batch 64 on an H200 against
/// 13 us at batch 1), while re-reading the weights 4 times costs little.
constexpr uint64_t kGemvMaxBatch = 64;

inline int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// A float literal CUDA accepts: `0.0099999998f`, `SEQC_INFINITY`.
std::string floatLiteral(double value);

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

/// Normalises the ops of \p model into \p stages; false (with \p error) when
/// a layer lacks a parameter it needs.
bool buildStages(const ir::Model &model, std::vector<Stage> &stages,
                 std::string &error);

/// \p size floats: \p src (if any) followed by zeros.
std::vector<float> paddedCopy(const std::vector<float> *src, size_t size);

/// Emits activation functors, one per distinct activation.
class ActivationTable {
public:
  /// The functor expression for \p act, e.g. `seqc_act_relu()`.
  std::string use(const ir::Activation &act);
  std::string definitions;

private:
  std::map<std::string, std::string> names;
  std::map<std::string, bool> used;
};

/// The parameter lists of every kernel: the plan's input and output
/// buffers, the parameter blob and the batch.
extern const char *const kKernelParams;
/// Kernels that may run in place (x == y) must not promise no aliasing.
extern const char *const kKernelParamsAliased;

/// `reinterpret_cast<const TYPE *>(params + OFFSETull)`.
std::string ptr(const char *type, uint64_t offset);

/// Emits the fp32 fused kernel into \p body; false (with \p reason) when it
/// does not fit in shared memory.
bool emitFusedF32(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason);

/// Emits the tensor-core fused kernel (bf16/f16); false (with \p reason) if
/// it does not fit.
bool emitFusedMma(const ir::Model &model, const std::vector<Stage> &stages,
                  const CudaOptions &options, CudaProgram &program,
                  ActivationTable &acts, std::string &body,
                  std::string &reason);

/// Emits one GEMM/GEMV kernel pair per Dense layer and one kernel per run of
/// row operations; false (with \p error) when a layer is too wide.
bool emitLayered(const ir::Model &model, const std::vector<Stage> &stages,
                 const CudaOptions &options, CudaProgram &program,
                 ActivationTable &acts, std::string &body, std::string &error);

} // namespace seqc::cuda

#endif // SEQC_CODEGEN_CUDA_INTERNAL_H
