//===- ShapeCheck.cpp - Shape inference and checking ----------------------===//
//
// Takes the input width the model declares (an ONNX graph's input) or
// infers it from the first layer that fixes one (Linear, BatchNorm1d,
// LayerNorm), types every value `f32[B, F]`, and reports each
// layer whose expected input width differs from what the layer before it
// produces.
//
//===----------------------------------------------------------------------===//

#include "compiler/passes/Pass.h"

#include <fmt/format.h>

namespace seqc::passes {

namespace {

/// The input width an op requires, or 0 when it accepts any width.
int64_t requiredWidth(const ir::Op &op) {
  switch (op.kind) {
  case ir::OpKind::Linear:
  case ir::OpKind::Dense:
  case ir::OpKind::BatchNorm:
  case ir::OpKind::LayerNorm:
  case ir::OpKind::Affine:
    return op.inFeatures;
  default:
    return 0;
  }
}

std::string_view noun(const ir::Op &op) {
  return op.kind == ir::OpKind::Linear || op.kind == ir::OpKind::Dense
             ? "input features"
             : "features";
}

class ShapeCheckPass : public Pass {
public:
  std::string_view getName() const override { return "shape-check"; }

  bool run(ir::Model &model, DiagnosticEngine &diag) override {
    if (model.ops.empty()) {
      diag.error(fmt::format("model '{}' has no layers", model.name));
      return false;
    }
    // An imported model (ONNX) may declare its input width; otherwise the
    // first layer that needs one fixes it.
    int64_t width = model.values[0].type.features();
    for (const ir::Op &op : model.ops)
      if (width != 0 || (width = requiredWidth(op)) != 0)
        break;
    if (width == 0) {
      const ir::Op &first = model.ops.front();
      diag.error(first.loc,
                 fmt::format("cannot tell how many input features '{}' takes: "
                             "it has no Linear, BatchNorm1d or LayerNorm layer",
                             model.name),
                 first.locLength);
      return false;
    }
    model.values[0].type = ir::Type::batched(width);
    // The op that last fixed the width (a Linear or a norm), and the op
    // just before the current one (ignoring no-ops).
    const ir::Op *widthSetter = nullptr;
    const ir::Op *previous = nullptr;
    for (ir::Op &op : model.ops) {
      int64_t required = requiredWidth(op);
      if (required != 0 && required != width) {
        std::string from;
        if (!widthSetter)
          from = fmt::format("the model's input has {}", width);
        else if (widthSetter == previous)
          from = fmt::format("the layer before it ({}) produces {}",
                             widthSetter->description, width);
        else
          from = fmt::format("it receives {} from {}", width,
                             widthSetter->description);
        diag.error(op.loc,
                   fmt::format("{} expects {} {}, but {}", op.description,
                               required, noun(op), from),
                   op.locLength);
        if (widthSetter && widthSetter->loc.isValid())
          diag.note(widthSetter->loc,
                    fmt::format("{} produces {} features here",
                                widthSetter->description, width),
                    widthSetter->locLength);
        return false;
      }
      if (op.kind == ir::OpKind::Linear || op.kind == ir::OpKind::Dense)
        width = op.outFeatures;
      model.values[op.result].type = ir::Type::batched(width);
      if (requiredWidth(op) != 0)
        widthSetter = &op;
      if (op.kind != ir::OpKind::Identity)
        previous = &op;
    }
    return true;
  }
};

} // namespace

std::unique_ptr<Pass> createShapeCheckPass() {
  return std::make_unique<ShapeCheckPass>();
}

} // namespace seqc::passes
