//===- CpuActivationTest.cpp - Accuracy of the generated activations ------===//
//
// Sweeps every activation over the whole float range (a million inputs
// spread over all exponents, plus zeros, subnormals, the largest floats,
// infinities and NaN) through both code paths (rows in lanes for narrow
// models, features in lanes for wide ones) and measures the error in ulps
// against the exact value computed in long double. Non-finite inputs must
// give what the reference (PyTorch's definitions) gives.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/reference/Interpreter.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstring>

using namespace seqc;
using namespace seqc::codegen::cpu;

namespace {

using LD = long double;

LD sigmoidL(LD x) { return 1.0L / (1.0L + expl(-x)); }

/// The exact activation, evaluated in long double with stable formulas.
LD truth(const ir::Activation &act, LD x) {
  switch (act.kind) {
  case ir::ActKind::Sigmoid:
    return sigmoidL(x);
  case ir::ActKind::Tanh:
    return tanhl(x);
  case ir::ActKind::GELU:
    return 0.5L * x * erfcl(-x / sqrtl(2.0L));
  case ir::ActKind::GELUTanh: {
    LD u = sqrtl(2.0L / 3.14159265358979323846264338327950288L) *
           (x + 0.044715L * x * x * x);
    return x * sigmoidL(2.0L * u);
  }
  case ir::ActKind::SiLU:
    return x * sigmoidL(x);
  case ir::ActKind::ELU:
    return x > 0 ? x : static_cast<LD>(act.alpha) * expm1l(x);
  case ir::ActKind::Softplus: {
    LD bx = static_cast<LD>(act.beta) * x;
    if (bx > static_cast<LD>(act.alpha))
      return x;
    LD sp = bx > 0 ? bx + log1pl(expl(-bx)) : log1pl(expl(bx));
    return sp / static_cast<LD>(act.beta);
  }
  case ir::ActKind::Mish: {
    LD sp = x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x));
    return x * tanhl(sp);
  }
  case ir::ActKind::Softsign:
    return x / (1.0L + fabsl(x));
  default:
    return reference::evalActivation(act, static_cast<double>(x));
  }
}

/// Distance of \p got from \p exact in units of the float ulp at exact.
double ulpError(float got, LD exact) {
  float rounded = static_cast<float>(exact);
  if (std::isinf(rounded))
    return got == rounded ? 0.0 : INFINITY;
  float mag = std::fabs(rounded);
  double ulp = mag < FLT_MIN ? static_cast<double>(FLT_TRUE_MIN)
                             : std::ldexp(1.0, std::ilogb(mag) - 23);
  return static_cast<double>(fabsl(static_cast<LD>(got) - exact)) / ulp;
}

std::vector<float> sweepInputs() {
  std::vector<float> xs;
  for (uint64_t bits = 0; bits < 0x7f800000u; bits += 0x1001) {
    float f;
    uint32_t b32 = static_cast<uint32_t>(bits);
    std::memcpy(&f, &b32, 4);
    xs.push_back(f);
    xs.push_back(-f);
  }
  // Dense sampling where the functions bend.
  for (float x = -20.0f; x <= 20.0f; x += 0.00390625f)
    xs.push_back(x);
  for (float x : {0.0f,     -0.0f,   FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN,
                  -FLT_MIN, FLT_MAX, -FLT_MAX,     1e-30f,        -1e-30f,
                  88.7f,    -88.7f,  103.9f,       -103.9f,       9.01f,
                  -9.01f,   14.5f,   -14.5f,       20.0f,         20.000002f})
    xs.push_back(x);
  return xs;
}

/// Whether --fast-math replaces \p kind's exact routine with a float one.
bool hasFastRoutine(ir::ActKind kind) {
  switch (kind) {
  case ir::ActKind::Sigmoid:
  case ir::ActKind::SiLU:
  case ir::ActKind::Tanh:
  case ir::ActKind::GELU:
  case ir::ActKind::GELUTanh:
    return true;
  default:
    return false;
  }
}

/// The bounds --fast-math keeps (docs/cpu-backend.md, "Numerics"): with
/// FMA, and without (each multiply-add of the polynomials rounds twice).
constexpr double kFastMathUlps = 6.0;
constexpr double kFastMathUlpsNoFma = 8.0;

/// Runs every activation over sweepInputs() and the special values through
/// both code paths, compiled for \p cpu, and checks each against the exact
/// value: within \p fastBound ulps for those with a fast routine when
/// \p fastMath is set, else within 1 ulp; non-finite inputs as the
/// reference gives them.
void checkActivations(bool fastMath, double fastBound,
                      const std::string &cpu = "") {
  std::vector<float> xs = sweepInputs();
  const float specials[] = {INFINITY, -INFINITY, NAN, -NAN};
  for (const ir::Activation &act : test::allActivations()) {
    double bound = fastMath && hasFastRoutine(act.kind) ? fastBound : 1.0;
    for (int64_t width : {1, 37}) {
      test::ModelBuilder mb(width, 1);
      mb.act(act);
      CpuTargetOptions opts;
      opts.prefix = "act";
      opts.fastMath = fastMath;
      opts.cpu = cpu;
      std::string error;
      std::unique_ptr<JitModel> jit = JitModel::create(mb.model, opts, error);
      INFO(error);
      REQUIRE(jit);
      std::vector<float> input(xs);
      for (float s : specials)
        input.push_back(s);
      while (input.size() % width)
        input.push_back(1.0f);
      size_t rows = input.size() / width;
      std::vector<float> output(input.size());
      std::vector<unsigned char> scratch(jit->scratchBytes(rows));
      REQUIRE(jit->run(input.data(), output.data(), rows, scratch.data()) ==
              kRunOk);
      double worst = 0.0;
      float worstX = 0.0f;
      for (size_t i = 0; i < input.size(); ++i) {
        float x = input[i];
        if (!std::isfinite(x)) {
          double want = reference::evalActivation(act, x);
          INFO(act.str() << " at " << x << ": got " << output[i] << " want "
                         << want);
          if (std::isnan(want))
            CHECK(std::isnan(output[i]));
          else
            CHECK(output[i] == static_cast<float>(want));
          continue;
        }
        double e = ulpError(output[i], truth(act, x));
        if (!(e <= worst)) {
          worst = e;
          worstX = x;
        }
      }
      std::string mode = fastMath ? " (fast math" : "";
      if (!cpu.empty())
        mode += (fastMath ? ", " : " (") + cpu;
      if (!mode.empty())
        mode += ")";
      MESSAGE(act.str() << mode << " width " << width << ": max " << worst
                        << " ulp at x = " << worstX);
      INFO(act.str() << mode << " width " << width << ": max " << worst
                     << " ulp at x = " << worstX);
      CHECK(worst <= bound);
    }
  }
}

} // namespace

TEST_CASE("activations are within 1 ulp over the whole float range") {
  checkActivations(false, 1.0);
}

TEST_CASE("--fast-math activations are within a few ulps over the whole "
          "float range") {
#if defined(__x86_64__)
  bool hostFma = __builtin_cpu_supports("fma");
#else
  bool hostFma = true;
#endif
  checkActivations(true, hostFma ? kFastMathUlps : kFastMathUlpsNoFma);
#if defined(__x86_64__)
  // Without FMA (Veltkamp's split products must stay exact) and, on an
  // AVX-512 host, with 8-wide vectors.
  checkActivations(true, kFastMathUlpsNoFma, "x86-64-v2");
  if (__builtin_cpu_supports("avx512f"))
    checkActivations(true, kFastMathUlps, "x86-64-v3");
#endif
}

TEST_CASE("--fast-math evaluates sigmoid, tanh, SiLU and GELU in float") {
  // The exact routines widen to double (fpext); the fast ones for these
  // four never do (GELU (tanh) computes its argument in double, so it is
  // left out here).
  using K = ir::ActKind;
  for (K kind : {K::Sigmoid, K::Tanh, K::SiLU, K::GELU}) {
    for (int64_t width : {1, 37}) {
      test::ModelBuilder mb(width, 1);
      mb.act({kind, 0, 0});
      for (bool fastMath : {false, true}) {
        CpuTargetOptions opts;
        opts.prefix = "act";
        opts.fastMath = fastMath;
        std::string ir, error;
        REQUIRE(generate(mb.model, opts, OutputKind::LLVMIR, ir, error));
        INFO(ir::Activation{kind, 0, 0}.str()
             << " width " << width << (fastMath ? " (fast math)" : ""));
        CHECK((ir.find("fpext <") == std::string::npos) == fastMath);
      }
    }
  }
}
