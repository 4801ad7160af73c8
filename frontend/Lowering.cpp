//===- Lowering.cpp - From module objects to the IR -----------------------===//

#include "frontend/Lowering.h"

#include <cassert>

namespace seqc::frontend {

namespace {

class Lowering {
public:
  explicit Lowering(ir::Model &model) : model(model) {}

  void lower(const Module &module, const std::string &path);

private:
  ir::ParamId addParam(const Module &module, const std::string &path,
                       std::string_view paramName) {
    const ModuleParam *param = module.findParam(paramName);
    if (!param)
      return ir::kNoParam;
    ir::Param irParam;
    irParam.name = path.empty() ? param->name : path + "." + param->name;
    irParam.shape = param->shape;
    irParam.data = param->value;
    irParam.loc = module.loc;
    irParam.locLength = module.locLength;
    irParam.layerDescription = module.description;
    return model.addParam(std::move(irParam));
  }

  ir::Model &model;
};

void Lowering::lower(const Module &module, const std::string &path) {
  if (module.kind == LayerKind::Sequential) {
    for (size_t i = 0; i < module.children.size(); ++i)
      lower(*module.children[i], path.empty()
                                     ? module.childNames[i]
                                     : path + "." + module.childNames[i]);
    return;
  }
  ir::Op op;
  op.input = static_cast<int32_t>(model.values.size() - 1);
  op.loc = module.loc;
  op.locLength = module.locLength;
  op.description = module.description;
  op.path = path;
  switch (module.kind) {
  case LayerKind::Linear:
    op.kind = ir::OpKind::Linear;
    op.inFeatures = module.inFeatures;
    op.outFeatures = module.outFeatures;
    op.weight = addParam(module, path, "weight");
    op.bias = addParam(module, path, "bias");
    break;
  case LayerKind::Activation:
    op.kind = ir::OpKind::Act;
    op.act = module.act;
    break;
  case LayerKind::Softmax:
    op.kind = ir::OpKind::Softmax;
    op.normDim = module.dim;
    break;
  case LayerKind::LogSoftmax:
    op.kind = ir::OpKind::LogSoftmax;
    op.normDim = module.dim;
    break;
  case LayerKind::BatchNorm1d:
    op.kind = ir::OpKind::BatchNorm;
    op.inFeatures = op.outFeatures = module.inFeatures;
    op.eps = module.eps;
    op.weight = addParam(module, path, "weight");
    op.bias = addParam(module, path, "bias");
    op.runningMean = addParam(module, path, "running_mean");
    op.runningVar = addParam(module, path, "running_var");
    break;
  case LayerKind::LayerNorm:
    op.kind = ir::OpKind::LayerNorm;
    op.inFeatures = op.outFeatures = module.inFeatures;
    op.eps = module.eps;
    op.weight = addParam(module, path, "weight");
    op.bias = addParam(module, path, "bias");
    break;
  case LayerKind::Identity:
    op.kind = ir::OpKind::Identity;
    op.isFlatten = module.isFlatten;
    op.flattenStart = module.flattenStart;
    op.flattenEnd = module.flattenEnd;
    break;
  case LayerKind::Sequential:
    assert(false && "handled above");
    break;
  }
  op.result = model.addValue();
  model.ops.push_back(std::move(op));
}

} // namespace

std::unique_ptr<ir::Model> lowerModule(const std::string &name,
                                       const Module &root) {
  auto model = std::make_unique<ir::Model>();
  model->name = name;
  model->addValue();
  Lowering(*model).lower(root, "");
  return model;
}

} // namespace seqc::frontend
