//===- Printer.cpp - Stable textual form of the IR ------------------------===//

#include "compiler/ir/Printer.h"

#include <fmt/format.h>

namespace seqc::ir {

static std::string paramRef(const Model &model, ParamId id) {
  return fmt::format("@\"{}\"", model.params[id].name);
}

static std::string printOp(const Model &model, const Op &op) {
  std::string line =
      fmt::format("  %{} = {} %{}", op.result, opName(op.kind), op.input);
  std::vector<std::string> params;
  for (ParamId id : {op.weight, op.bias, op.runningMean, op.runningVar})
    if (id != kNoParam)
      params.push_back(paramRef(model, id));
  if (!params.empty())
    line += fmt::format(" [{}]", fmt::join(params, ", "));

  std::vector<std::string> attrs;
  if (op.kind == OpKind::Act || (op.kind == OpKind::Dense && !op.act.isNone()))
    attrs.push_back("fn = " + op.act.str());
  if (op.kind == OpKind::Dense && op.rowNorm != RowNorm::None)
    attrs.push_back(op.rowNorm == RowNorm::Softmax ? "row_norm = softmax"
                                                   : "row_norm = log_softmax");
  if (op.kind == OpKind::BatchNorm || op.kind == OpKind::LayerNorm)
    attrs.push_back(fmt::format("eps = {}", op.eps));
  if (!attrs.empty())
    line += fmt::format(" {{{}}}", fmt::join(attrs, ", "));

  line += fmt::format(" : {} -> {}", model.values[op.input].type.str(),
                      model.values[op.result].type.str());
  if (!op.description.empty())
    line += fmt::format("  // [{}] {}", op.path, op.description);
  return line + "\n";
}

std::string printModel(const Model &model) {
  std::string out = fmt::format("model @{} {{\n", model.name);
  for (const Param &param : model.params) {
    out += fmt::format("  param @\"{}\" : {}\n", param.name,
                       Type(param.shape).str());
  }
  out += fmt::format("  input %0 : {}\n", model.values.front().type.str());
  for (const Op &op : model.ops)
    out += printOp(model, op);
  out += fmt::format("  return %{} : {}\n}}\n", model.outputValue(),
                     model.outputType().str());
  return out;
}

} // namespace seqc::ir
