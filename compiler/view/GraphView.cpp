//===- GraphView.cpp - Source layers matched to the fused ops -------------===//

#include "compiler/view/GraphView.h"

#include "compiler/bench/ModelCost.h"

#include <fmt/format.h>

namespace seqc::view {

namespace {

/// Whether \p description holds \p name at \p pos as one whole item of its
/// ", "-separated list.
bool itemAt(const std::string &description, size_t pos,
            const std::string &name) {
  if (description.compare(pos, name.size(), name) != 0)
    return false;
  size_t end = pos + name.size();
  return end == description.size() || description.compare(end, 2, ", ") == 0;
}

/// The fused op each source layer became part of, or -1 for a no-op.
///
/// Walks both chains in order: the fused op's description is the list of
/// the source layers it came from, so the next source layer either starts
/// the rest of that list or is a no-op the passes dropped. Names hold
/// commas themselves (`Linear(2, 3)`), which is why each is matched whole
/// at the current position rather than the list split.
bool matchLayers(const ir::Model &checked, const ir::Model &fused,
                 std::vector<int> &fusedOf, std::string &error) {
  fusedOf.assign(checked.ops.size(), -1);
  size_t j = 0;
  for (size_t i = 0; i < fused.ops.size(); ++i) {
    const std::string &description = fused.ops[i].description;
    size_t pos = 0;
    for (;;) {
      if (j == checked.ops.size()) {
        error = fmt::format("no source layer left for fused op {} ({})", i,
                            description);
        return false;
      }
      const ir::Op &layer = checked.ops[j];
      if (itemAt(description, pos, layer.description)) {
        fusedOf[j++] = static_cast<int>(i);
        pos += layer.description.size();
        if (pos == description.size())
          break;
        pos += 2;
      } else if (layer.kind == ir::OpKind::Identity) {
        ++j;
      } else {
        error = fmt::format("source layer {} ({}) is not in fused op {} ({})",
                            j, layer.description, i, description);
        return false;
      }
    }
  }
  for (; j < checked.ops.size(); ++j)
    if (checked.ops[j].kind != ir::OpKind::Identity) {
      error = fmt::format("source layer {} ({}) is in no fused op", j,
                          checked.ops[j].description);
      return false;
    }
  return true;
}

} // namespace

std::string shapeText(const ir::Type &type) {
  std::vector<std::string> dims;
  for (int64_t dim : type.dims)
    dims.push_back(dim == ir::kBatchDim ? "B" : std::to_string(dim));
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

bool buildGraph(const ir::Model &checked, const ir::Model &fused,
                std::vector<Group> groups, const ViewTarget &target, Graph &out,
                std::string &error) {
  std::vector<int> groupOfFused(fused.ops.size(), -1);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t op : groups[g].fusedOps)
      if (op < groupOfFused.size())
        groupOfFused[op] = static_cast<int>(g);
  for (size_t i = 0; i < groupOfFused.size(); ++i)
    if (groupOfFused[i] < 0) {
      error = fmt::format("fused op {} ({}) is in no kernel or stage of the "
                          "plan",
                          i, fused.ops[i].description);
      return false;
    }
  std::vector<int> fusedOf;
  if (!matchLayers(checked, fused, fusedOf, error))
    return false;
  out = Graph();
  out.modelName = checked.name;
  out.target = target.description;
  out.inputShape = shapeText(checked.inputType());
  out.outputShape = shapeText(checked.outputType());
  for (size_t j = 0; j < checked.ops.size(); ++j) {
    const ir::Op &op = checked.ops[j];
    Layer layer;
    layer.name = op.description;
    layer.path = op.path;
    layer.shape = shapeText(checked.values[op.result].type);
    layer.paramBytes =
        bench::opWeightBytes(checked, op, target.linearWeightBytes);
    layer.flops = bench::opFlops(op);
    layer.group = fusedOf[j] < 0 ? -1 : groupOfFused[fusedOf[j]];
    out.layers.push_back(std::move(layer));
  }
  out.groups = std::move(groups);
  return true;
}

} // namespace seqc::view
