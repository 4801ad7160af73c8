//===- Fuse.cpp - Linear + bias + activation (+ softmax) into dense -------===//
//
// Turns every Linear into a Dense op and pulls into its epilogue the
// activation that follows it and then a Softmax/LogSoftmax, so backends
// apply them in registers before the store. After this pass the model holds
// only Dense, Act, Softmax, LogSoftmax, LayerNorm and Affine ops
// (ir::verifyFusedForm, which the pass manager checks after this pass).
//
//===----------------------------------------------------------------------===//

#include "compiler/passes/Pass.h"

namespace seqc::passes {

namespace {

using ir::Op;
using ir::OpKind;

class FusePass : public Pass {
public:
  std::string_view getName() const override { return "fuse"; }
  bool establishesFusedForm() const override { return true; }

  bool run(ir::Model &model, DiagnosticEngine &) override {
    std::vector<Op> fused;
    const std::vector<Op> &ops = model.ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      Op op = ops[i];
      if (op.kind == OpKind::Linear) {
        op.kind = OpKind::Dense;
        if (i + 1 < ops.size() && ops[i + 1].kind == OpKind::Act) {
          op.act = ops[++i].act;
          op.description += ", " + ops[i].description;
        }
        if (i + 1 < ops.size() && (ops[i + 1].kind == OpKind::Softmax ||
                                   ops[i + 1].kind == OpKind::LogSoftmax)) {
          op.rowNorm = ops[i + 1].kind == OpKind::Softmax
                           ? ir::RowNorm::Softmax
                           : ir::RowNorm::LogSoftmax;
          op.description += ", " + ops[++i].description;
        }
        op.result = ops[i].result;
      }
      fused.push_back(std::move(op));
    }
    model.ops = std::move(fused);
    model.renumberValues();
    return true;
  }
};

} // namespace

std::unique_ptr<Pass> createFusePass() { return std::make_unique<FusePass>(); }

} // namespace seqc::passes
