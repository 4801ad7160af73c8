//===- ActivationsTest.cpp - The activation table -------------------------===//
//
// Checks what the compiler cannot: that every Activations.def entry is
// complete and consistent (names unique, each CUDA placeholder names a
// parameter or a constant, entries sharing a PyTorch class agree on its
// signature) and that the named constants are the values their names say.
//
//===----------------------------------------------------------------------===//

#include "compiler/ir/Activations.h"

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

using namespace seqc;

namespace {

/// The `{name}` placeholders of a CUDA expression; fails on an unbalanced
/// brace.
std::vector<std::string> placeholders(std::string_view text) {
  std::vector<std::string> names;
  for (size_t open; (open = text.find_first_of("{}")) != text.npos;) {
    REQUIRE(text[open] == '{');
    size_t close = text.find('}', open);
    REQUIRE(close != text.npos);
    std::string_view name = text.substr(open + 1, close - open - 1);
    REQUIRE(name.find('{') == name.npos);
    names.emplace_back(name);
    text.remove_prefix(close + 1);
  }
  return names;
}

bool isConstant(std::string_view name) {
  for (const ir::ActConstant &constant : ir::kActConstants)
    if (constant.name == name)
      return true;
  return false;
}

} // namespace

TEST_CASE("the named constants are what their names say") {
  CHECK(ir::kSqrt2OverPi == std::sqrt(2.0 / M_PI));
  CHECK(std::fabs(ir::kSqrtHalf - 1.0 / std::sqrt(2.0)) <= 0x1p-53);
  CHECK(ir::kGeluTanhCubic == 0.044715);
}

TEST_CASE("every activation entry is complete") {
  std::set<std::string_view> irNames;
  for (const ir::ActivationInfo &info : ir::kActivations) {
    INFO(info.irName);
    CHECK(irNames.insert(info.irName).second);
    REQUIRE((info.reference != nullptr));
    CHECK(!info.cuda.empty());
    CHECK(info.torchClass.empty() == (info.kind == ir::ActKind::None));
    // Used parameters come first, and have distinct keywords.
    CHECK((info.params[1].isUsed() ? info.params[0].isUsed() : true));
    CHECK((info.numParams() < 2 ||
           info.params[0].keyword != info.params[1].keyword));
    CHECK((!info.secondAboveFirst || info.numParams() == 2));
    for (const std::string &name : placeholders(info.cuda)) {
      INFO(name);
      bool isParam = false;
      for (const ir::ActParam &param : info.params)
        isParam |= param.isUsed() && param.keyword == name;
      CHECK((isParam || isConstant(name)));
    }
    // With its default parameters the reference is finite at 0.5.
    ir::Activation act{info.kind, 0.0, 0.0};
    for (const ir::ActParam &param : info.params)
      if (param.isUsed())
        param.set(act, param.defaultValue);
    CHECK(std::isfinite(info.reference(act, 0.5)));
  }
}

TEST_CASE("entries sharing a PyTorch class share its signature") {
  for (const ir::ActivationInfo &info : ir::kActivations) {
    ir::ActKind first = ir::classDefault(info.kind);
    if (first == info.kind)
      continue;
    const ir::ActivationInfo &base = ir::activationInfo(first);
    INFO(info.irName << " in " << base.irName << "'s class");
    CHECK(info.variant.keyword == base.variant.keyword);
    CHECK(!info.variant.keyword.empty());
    CHECK(info.variant.value != base.variant.value);
    CHECK(info.numParams() == base.numParams());
    CHECK(info.takesInplace == base.takesInplace);
  }
}

TEST_CASE("activations print as the IR spells them") {
  using K = ir::ActKind;
  CHECK(ir::Activation{K::None, 0, 0}.str() == "none");
  CHECK(ir::Activation{K::GELUTanh, 0, 0}.str() == "gelu_tanh");
  CHECK(ir::Activation{K::LeakyReLU, 0.25, 0}.str() == "leaky_relu(0.25)");
  CHECK(ir::Activation{K::Softplus, 20, 1}.str() ==
        "softplus(beta=1, threshold=20)");
  CHECK(ir::Activation{K::Hardtanh, -1, 1}.str() == "hardtanh(-1, 1)");
}
