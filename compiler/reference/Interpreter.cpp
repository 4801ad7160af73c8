//===- Interpreter.cpp - The float64 reference backend --------------------===//

#include "compiler/reference/Interpreter.h"
#include "compiler/reference/ReducedPrecision.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace seqc::reference {

using ir::Op;
using ir::OpKind;

double evalActivation(const ir::Activation &act, double x) {
  return ir::activationInfo(act.kind).reference(act, x);
}

namespace {

const std::vector<float> *paramData(const ir::Model &model, ir::ParamId id) {
  return id == ir::kNoParam ? nullptr : &model.params[id].data.data;
}

void rowSoftmax(Matrix &m, bool logForm) {
  for (int64_t r = 0; r < m.rows; ++r) {
    double maxV = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < m.cols; ++c)
      maxV = std::max(maxV, m.at(r, c));
    // A row of NaN stays NaN; a row of -inf gives NaN as in PyTorch.
    double sum = 0.0;
    for (int64_t c = 0; c < m.cols; ++c)
      sum += std::exp(m.at(r, c) - maxV);
    for (int64_t c = 0; c < m.cols; ++c) {
      double shifted = m.at(r, c) - maxV;
      m.at(r, c) = logForm ? shifted - std::log(sum) : std::exp(shifted) / sum;
    }
  }
}

Matrix runOp(const ir::Model &model, const Op &op, const Matrix &x,
             codegen::Precision precision) {
  switch (op.kind) {
  case OpKind::Linear:
  case OpKind::Dense: {
    const std::vector<float> &w = *paramData(model, op.weight);
    const std::vector<float> *b = paramData(model, op.bias);
    Matrix y =
        denseProducts(x, w.data(), op.outFeatures, op.inFeatures, precision);
    for (int64_t r = 0; r < x.rows; ++r) {
      for (int64_t o = 0; o < op.outFeatures; ++o) {
        double acc = y.at(r, o);
        if (b)
          acc += (*b)[o];
        y.at(r, o) =
            op.kind == OpKind::Dense ? evalActivation(op.act, acc) : acc;
      }
    }
    if (op.kind == OpKind::Dense && op.rowNorm != ir::RowNorm::None)
      rowSoftmax(y, op.rowNorm == ir::RowNorm::LogSoftmax);
    return y;
  }
  case OpKind::Act: {
    Matrix y = x;
    for (double &v : y.data)
      v = evalActivation(op.act, v);
    return y;
  }
  case OpKind::Softmax:
  case OpKind::LogSoftmax: {
    Matrix y = x;
    rowSoftmax(y, op.kind == OpKind::LogSoftmax);
    return y;
  }
  case OpKind::BatchNorm: {
    const std::vector<float> *w = paramData(model, op.weight);
    const std::vector<float> *b = paramData(model, op.bias);
    const std::vector<float> &mean = *paramData(model, op.runningMean);
    const std::vector<float> &var = *paramData(model, op.runningVar);
    Matrix y = x;
    for (int64_t r = 0; r < x.rows; ++r)
      for (int64_t c = 0; c < x.cols; ++c) {
        double v = (x.at(r, c) - mean[c]) / std::sqrt(var[c] + op.eps);
        y.at(r, c) = v * (w ? (*w)[c] : 1.0) + (b ? (*b)[c] : 0.0);
      }
    return y;
  }
  case OpKind::LayerNorm: {
    const std::vector<float> *w = paramData(model, op.weight);
    const std::vector<float> *b = paramData(model, op.bias);
    Matrix y = x;
    for (int64_t r = 0; r < x.rows; ++r) {
      double mean = 0.0;
      for (int64_t c = 0; c < x.cols; ++c)
        mean += x.at(r, c);
      mean /= static_cast<double>(x.cols);
      double var = 0.0;
      for (int64_t c = 0; c < x.cols; ++c)
        var += (x.at(r, c) - mean) * (x.at(r, c) - mean);
      var /= static_cast<double>(x.cols);
      double inv = 1.0 / std::sqrt(var + op.eps);
      for (int64_t c = 0; c < x.cols; ++c)
        y.at(r, c) = (x.at(r, c) - mean) * inv * (w ? (*w)[c] : 1.0) +
                     (b ? (*b)[c] : 0.0);
    }
    return y;
  }
  case OpKind::Affine: {
    const std::vector<float> &w = *paramData(model, op.weight);
    const std::vector<float> *b = paramData(model, op.bias);
    Matrix y = x;
    for (int64_t r = 0; r < x.rows; ++r)
      for (int64_t c = 0; c < x.cols; ++c)
        y.at(r, c) = x.at(r, c) * w[c] + (b ? (*b)[c] : 0.0);
    return y;
  }
  case OpKind::Identity:
    return x;
  }
  assert(false && "unknown op kind");
  return x;
}

} // namespace

Matrix run(const ir::Model &model, const Matrix &input,
           std::vector<Matrix> *layerOutputs, codegen::Precision precision) {
  assert(input.cols == model.inputType().features() &&
         "input width does not match the model");
  Matrix current = input;
  for (const Op &op : model.ops) {
    current = runOp(model, op, current, precision);
    if (layerOutputs)
      layerOutputs->push_back(current);
  }
  return current;
}

} // namespace seqc::reference
