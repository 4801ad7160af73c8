//===- InputLayout.cpp - Inputs of any rank as [rows, features] -----------===//

#include "compiler/driver/InputLayout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace seqc::driver {

namespace {

/// `(5, 8, 8)`, as NumPy prints a shape.
std::string pythonShape(const std::vector<int64_t> &shape) {
  return fmt::format("({})", fmt::join(shape, ", "));
}

/// The product of shape[first, last), or nullopt when it overflows.
std::optional<int64_t> product(const std::vector<int64_t> &shape, size_t first,
                               size_t last) {
  int64_t result = 1;
  for (size_t i = first; i < last; ++i)
    if (__builtin_mul_overflow(result, shape[i], &result))
      return std::nullopt;
  return result;
}

/// `layer 2 (Softmax(dim=1))`; a Flatten with its dims, which its
/// description leaves out.
std::string layerName(const ir::Op &op) {
  std::string description =
      op.isFlatten ? fmt::format("Flatten(start_dim={}, end_dim={})",
                                 op.flattenStart, op.flattenEnd)
                   : op.description;
  return fmt::format("layer {} ({})", op.path.empty() ? "0" : op.path,
                     description);
}

/// What the walk over the ops found for an input of rank > 2.
struct RankWalk {
  /// The Flatten that merges every sample dimension, if one is reached.
  const ir::Op *flatten = nullptr;
  /// The first op that works along the last dimension (Linear, a norm).
  const ir::Op *lastDimOp = nullptr;
  /// The first op that would not act along the last dimension, and why.
  const ir::Op *unsupported = nullptr;
  std::string why;
};

/// Resolves a PyTorch dimension index against \p rank.
int64_t resolveDim(int64_t dim, int64_t rank) {
  return dim < 0 ? dim + rank : dim;
}

/// Follows the rank of the data through the ops until a Flatten makes it
/// 2-D: elementwise ops keep it, Linear and LayerNorm work along the last
/// dimension, and BatchNorm1d or a softmax over another dimension cannot
/// run as rows.
RankWalk walkRank(const ir::Model &model, int64_t rank) {
  RankWalk walk;
  auto refuse = [&](const ir::Op &op, std::string why) {
    if (!walk.unsupported) {
      walk.unsupported = &op;
      walk.why = std::move(why);
    }
  };
  for (const ir::Op &op : model.ops) {
    switch (op.kind) {
    case ir::OpKind::Identity: {
      if (!op.isFlatten)
        break;
      int64_t start = resolveDim(op.flattenStart, rank);
      int64_t end = resolveDim(op.flattenEnd, rank);
      if (start == end)
        break; // flattens one dimension: a no-op
      if (start == 1 && end == rank - 1) {
        walk.flatten = &op;
        return walk;
      }
      refuse(op, fmt::format("on {}-D data its start_dim {} and end_dim {} "
                             "do not flatten each sample to a row",
                             rank, op.flattenStart, op.flattenEnd));
      return walk;
    }
    case ir::OpKind::Act:
      break;
    case ir::OpKind::Softmax:
    case ir::OpKind::LogSoftmax:
      if (op.normDim == ir::kNoDim)
        refuse(op, fmt::format("without dim, PyTorch picks dimension {} of "
                               "{}-D data, not the last",
                               rank == 3 ? 0 : 1, rank));
      else if (resolveDim(op.normDim, rank) != rank - 1)
        refuse(op, fmt::format("dim={} is not the last dimension of {}-D "
                               "data",
                               op.normDim, rank));
      if (!walk.lastDimOp)
        walk.lastDimOp = &op;
      break;
    case ir::OpKind::BatchNorm:
      refuse(op, fmt::format("BatchNorm1d reads {}-D data as [batch, "
                             "channels, length], with channels in "
                             "dimension 1",
                             rank));
      break;
    case ir::OpKind::Linear:
    case ir::OpKind::LayerNorm:
    case ir::OpKind::Affine:
    case ir::OpKind::Dense:
      if (!walk.lastDimOp)
        walk.lastDimOp = &op;
      break;
    }
  }
  return walk;
}

/// Reports \p message about the input, with a note at \p op's source.
void reportAt(std::string_view path, const ir::Op *op, std::string_view message,
              DiagnosticEngine &diag) {
  diag.fileError(path, message);
  if (op && op->loc.isValid())
    diag.note(op->loc, "this layer", op->locLength);
}

/// Reports the layer the walk found that cannot run the input's rows.
std::nullopt_t reportUnsupported(std::string_view path,
                                 const std::vector<int64_t> &shape,
                                 const RankWalk &walk, DiagnosticEngine &diag) {
  reportAt(path, walk.unsupported,
           fmt::format("input has shape {}, which seqc runs as rows along its "
                       "last dimension, but {} would not: {}",
                       pythonShape(shape), layerName(*walk.unsupported),
                       walk.why),
           diag);
  return std::nullopt;
}

/// The layout when the walk reached a Flatten of every sample dimension:
/// `[batch, sampleSize]`, if the layers before it allow.
std::optional<InputLayout>
planFlatten(const ir::Model &model, const std::vector<int64_t> &shape,
            const RankWalk &walk, int64_t sampleSize, int64_t rowsPerSample,
            std::string_view path, DiagnosticEngine &diag) {
  if (walk.unsupported)
    return reportUnsupported(path, shape, walk, diag);
  // Flatten after a layer that worked on the last dimension only equals
  // flattening first when each sample is a single row.
  if (walk.lastDimOp && rowsPerSample != 1) {
    reportAt(path, walk.lastDimOp,
             fmt::format("input has shape {}: {} works along its last "
                         "dimension before the Flatten of {} makes it 2-D, "
                         "which seqc cannot run; flatten first or pass "
                         "[batch, features] data",
                         pythonShape(shape), layerName(*walk.lastDimOp),
                         layerName(*walk.flatten)),
             diag);
    return std::nullopt;
  }
  int64_t width = model.inputType().features();
  if (sampleSize != width) {
    reportAt(path, walk.flatten,
             fmt::format("input has shape {}: {} makes each sample {} "
                         "features, but model '{}' takes {}",
                         pythonShape(shape), layerName(*walk.flatten),
                         sampleSize, model.name, width),
             diag);
    return std::nullopt;
  }
  return InputLayout{shape.front(), width, {shape.front()}};
}

} // namespace

std::vector<int64_t> InputLayout::outputShape(int64_t outFeatures) const {
  std::vector<int64_t> shape = outerShape;
  shape.push_back(outFeatures);
  return shape;
}

std::optional<InputLayout> planInputLayout(const ir::Model &model,
                                           const std::vector<int64_t> &shape,
                                           std::string_view path,
                                           DiagnosticEngine &diag) {
  int64_t width = model.inputType().features();
  if (shape.size() <= 2) {
    if (shape.back() != width) {
      diag.fileError(path, fmt::format("input has {} features per row, but "
                                       "model '{}' takes {}",
                                       shape.back(), model.name, width));
      return std::nullopt;
    }
    return InputLayout{shape.front(), width, {shape.front()}};
  }

  std::optional<int64_t> sampleSize = product(shape, 1, shape.size());
  std::optional<int64_t> rowsPerSample = product(shape, 1, shape.size() - 1);
  std::optional<int64_t> rows = product(shape, 0, shape.size() - 1);
  if (!sampleSize || !rowsPerSample || !rows) {
    diag.fileError(path, fmt::format("input shape {} overflows 64 bits",
                                     pythonShape(shape)));
    return std::nullopt;
  }
  RankWalk walk = walkRank(model, int64_t(shape.size()));
  if (walk.flatten)
    return planFlatten(model, shape, walk, *sampleSize, *rowsPerSample, path,
                       diag);
  if (shape.back() != width && *sampleSize == width) {
    diag.reportFile(Severity::Note, path,
                    fmt::format("model '{}' does not start with "
                                "nn.Flatten(); the {} input is flattened to "
                                "{} features per sample as if it did",
                                model.name, pythonShape(shape), width));
    return InputLayout{shape.front(), width, {shape.front()}};
  }
  if (shape.back() != width) {
    diag.fileError(path, fmt::format("input has shape {}: {} features along "
                                     "its last dimension and {} per sample, "
                                     "but model '{}' takes {} (start the "
                                     "model with nn.Flatten() to flatten each "
                                     "sample)",
                                     pythonShape(shape), shape.back(),
                                     *sampleSize, model.name, width));
    return std::nullopt;
  }
  if (walk.unsupported)
    return reportUnsupported(path, shape, walk, diag);
  return InputLayout{*rows, width,
                     std::vector<int64_t>(shape.begin(), shape.end() - 1)};
}

} // namespace seqc::driver
