//===- PeerHarness.h - Shared parts of the peer programs --------*- C++ -*-===//
//
// Part of seqc's benchmark harness (tests/bench/run-peers.py). Every peer
// program (oneDNN, OpenBLAS, libxsmm) runs the same MLP -- given as a layer
// list "in:out:act,..." -- on the same fixed-seed inputs, in the number
// format --precision asks for (f32 by default), times it the way `seqc bench`
// does, checks two rows of its output against a float64 evaluation of the
// same f32 weights, and prints one JSON object per batch.
//
// Timing (the same constants as compiler/bench/Timing.h): warm up
// for 0.1 s (at least one run), then group back-to-back runs into samples of
// at least max(50 us, 1 s / 200), and take `samples` = 1 s / sample time
// clamped to [3, 200] (or --repeat N); latency = sample time / runs.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_BENCH_PEERS_PEERHARNESS_H
#define SEQC_BENCH_PEERS_PEERHARNESS_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace peer {

enum class Act { None, ReLU, Sigmoid, Tanh };

/// One Linear layer with bias, followed by an activation.
struct Layer {
  int64_t in = 0, out = 0;
  Act act = Act::None;
  /// PyTorch layout: weight[out][in], bias[out].
  std::vector<float> weight, bias;
};

/// The number format a peer computes in (run-peers.py --precision): f32;
/// bf16 weights and activations; int8 weights and dynamically quantised
/// activations; int8 weights with f32 activations (int8w).
enum class Precision { F32, BF16, Int8, Int8W };

inline const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::Int8:
    return "int8";
  case Precision::Int8W:
    return "int8w";
  }
  return "?";
}

struct Options {
  std::vector<Layer> layers;
  std::vector<int64_t> batches;
  int threads = 1;
  unsigned repeat = 0;
  uint64_t seed = 1;
  Precision precision = Precision::F32;
};

[[noreturn]] inline void fail(const std::string &message) {
  std::fprintf(stderr, "peer: error: %s\n", message.c_str());
  std::exit(1);
}

inline std::vector<std::string> split(const std::string &text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos)
      return parts;
    start = end + 1;
  }
}

inline int64_t parsePositive(const std::string &text, const char *what) {
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value <= 0 || value > (1ll << 31))
    fail(std::string("bad ") + what + " '" + text + "'");
  return value;
}

/// PyTorch's default Linear initialisation (uniform in +-1/sqrt(in)), from
/// a fixed seed. Values differ from seqc's --init-seed but not their scale.
inline void initialize(std::vector<Layer> &layers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Layer &layer : layers) {
    float bound = 1.0f / std::sqrt(float(layer.in));
    auto draw = [&] {
      return float((double(rng() >> 40) * 0x1p-23 - 1.0) * bound);
    };
    layer.weight.resize(size_t(layer.in * layer.out));
    for (float &w : layer.weight)
      w = draw();
    layer.bias.resize(size_t(layer.out));
    for (float &b : layer.bias)
      b = draw();
  }
}

inline Precision parsePrecision(const std::string &text) {
  for (Precision p :
       {Precision::F32, Precision::BF16, Precision::Int8, Precision::Int8W})
    if (text == precisionName(p))
      return p;
  fail("bad precision '" + text + "' (want f32, bf16, int8 or int8w)");
}

/// --layers 784:512:relu,512:10:none --batch 1,64 --threads N [--repeat N]
/// [--seed N] [--precision f32|bf16|int8|int8w]
inline Options parseOptions(int argc, char **argv) {
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      fail("option '" + arg + "' needs a value");
    std::string value = argv[++i];
    if (arg == "--layers") {
      for (const std::string &spec : split(value, ',')) {
        std::vector<std::string> f = split(spec, ':');
        if (f.size() != 3)
          fail("bad layer '" + spec + "' (want in:out:act)");
        Layer layer;
        layer.in = parsePositive(f[0], "layer size");
        layer.out = parsePositive(f[1], "layer size");
        if (f[2] == "none")
          layer.act = Act::None;
        else if (f[2] == "relu")
          layer.act = Act::ReLU;
        else if (f[2] == "sigmoid")
          layer.act = Act::Sigmoid;
        else if (f[2] == "tanh")
          layer.act = Act::Tanh;
        else
          fail("unsupported activation '" + f[2] + "'");
        if (!opts.layers.empty() && opts.layers.back().out != layer.in)
          fail("layer '" + spec + "' does not follow the previous one");
        opts.layers.push_back(layer);
      }
    } else if (arg == "--batch") {
      for (const std::string &b : split(value, ','))
        opts.batches.push_back(parsePositive(b, "batch"));
    } else if (arg == "--threads") {
      opts.threads = int(parsePositive(value, "thread count"));
    } else if (arg == "--repeat") {
      opts.repeat = unsigned(parsePositive(value, "repeat count"));
    } else if (arg == "--seed") {
      opts.seed = uint64_t(parsePositive(value, "seed"));
    } else if (arg == "--precision") {
      opts.precision = parsePrecision(value);
    } else {
      fail("unknown option '" + arg + "'");
    }
  }
  if (opts.layers.empty() || opts.batches.empty())
    fail("need --layers and --batch");
  initialize(opts.layers, opts.seed);
  return opts;
}

inline float activate(Act act, float x) {
  switch (act) {
  case Act::ReLU:
    return x > 0.0f ? x : 0.0f;
  case Act::Sigmoid:
    return 1.0f / (1.0f + std::exp(-x));
  case Act::Tanh:
    return std::tanh(x);
  case Act::None:
    break;
  }
  return x;
}

/// Fixed-seed inputs, uniform in [-1, 1), `rows` x `features`.
inline std::vector<float> makeInput(int64_t rows, int64_t features) {
  std::mt19937_64 rng(20240229);
  std::vector<float> x(size_t(rows * features));
  for (float &v : x)
    v = float(double(rng() >> 40) * 0x1p-23 - 1.0);
  return x;
}

/// Exits with a message unless \p peer offers the precision \p opts asks for
/// (run-peers.py only asks for those, so this guards direct calls).
inline void requirePrecision(const Options &opts, const char *peer,
                             std::initializer_list<Precision> offered) {
  for (Precision p : offered)
    if (p == opts.precision)
      return;
  fail(std::string(peer) + " does not offer --precision " +
       precisionName(opts.precision));
}

/// How far a peer's output is from the float64 evaluation of its f32
/// weights, over the checked rows.
struct Accuracy {
  /// The largest |y - ref|.
  double maxAbs = 0.0;
  /// The largest over the rows of max |y - ref| / max |ref| (the row's
  /// error scaled by its magnitude, so that bf16 and int8 bounds apply
  /// whatever the output's scale).
  double relative = 0.0;
};

/// Compares \p output (batch x outFeatures) with a float64 evaluation of
/// the network on the first and the last row.
inline Accuracy checkRows(const std::vector<Layer> &layers, const float *input,
                          const float *output, int64_t batch) {
  Accuracy accuracy;
  for (int64_t row : {int64_t(0), batch - 1}) {
    std::vector<double> x(input + row * layers.front().in,
                          input + (row + 1) * layers.front().in);
    for (const Layer &layer : layers) {
      std::vector<double> y(size_t(layer.out));
      for (int64_t o = 0; o < layer.out; ++o) {
        double sum = layer.bias[o];
        for (int64_t i = 0; i < layer.in; ++i)
          sum += double(layer.weight[o * layer.in + i]) * x[i];
        switch (layer.act) {
        case Act::ReLU:
          sum = sum > 0 ? sum : 0;
          break;
        case Act::Sigmoid:
          sum = 1.0 / (1.0 + std::exp(-sum));
          break;
        case Act::Tanh:
          sum = std::tanh(sum);
          break;
        case Act::None:
          break;
        }
        y[o] = sum;
      }
      x = std::move(y);
    }
    int64_t out = layers.back().out;
    double rowError = 0.0, rowMagnitude = 0.0;
    for (int64_t o = 0; o < out; ++o) {
      double diff = std::abs(double(output[row * out + o]) - x[o]);
      rowError = std::max(rowError, std::isnan(diff) ? INFINITY : diff);
      rowMagnitude = std::max(rowMagnitude, std::abs(x[o]));
    }
    accuracy.maxAbs = std::max(accuracy.maxAbs, rowError);
    accuracy.relative =
        std::max(accuracy.relative, rowMagnitude > 0.0 ? rowError / rowMagnitude
                                    : rowError > 0.0   ? INFINITY
                                                       : 0.0);
  }
  return accuracy;
}

struct Timing {
  double min = 0, p10 = 0, median = 0, p90 = 0, max = 0;
  unsigned samples = 0;
  uint64_t runsPerSample = 0;
};

inline double percentile(const std::vector<double> &sorted, double q) {
  double pos = q * double(sorted.size() - 1);
  size_t lo = size_t(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

/// Times \p run as `seqc bench` does.
inline Timing timeRuns(const std::function<void()> &run, unsigned repeat) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  Clock::time_point warmStart = Clock::now();
  double first = 0.0;
  uint64_t warmRuns = 0;
  do {
    Clock::time_point start = Clock::now();
    run();
    if (warmRuns++ == 0)
      first = since(start);
  } while (since(warmStart) < 0.1);
  double elapsed = since(warmStart);
  double estimate = std::max(
      1e-10, warmRuns > 1 ? (elapsed - first) / double(warmRuns - 1) : first);
  double sampleSeconds = std::max(50e-6, 1.0 / 200);
  Timing t;
  t.runsPerSample =
      std::max<uint64_t>(1, uint64_t(std::ceil(sampleSeconds / estimate)));
  t.samples = repeat;
  if (!t.samples)
    t.samples = unsigned(std::clamp(
        std::round(1.0 / (double(t.runsPerSample) * estimate)), 3.0, 200.0));
  std::vector<double> perRun;
  for (unsigned s = 0; s < t.samples; ++s) {
    Clock::time_point start = Clock::now();
    for (uint64_t r = 0; r < t.runsPerSample; ++r)
      run();
    perRun.push_back(since(start) / double(t.runsPerSample));
  }
  std::sort(perRun.begin(), perRun.end());
  t.min = perRun.front();
  t.p10 = percentile(perRun, 0.1);
  t.median = percentile(perRun, 0.5);
  t.p90 = percentile(perRun, 0.9);
  t.max = perRun.back();
  return t;
}

/// A finite stand-in for an infinite error, which JSON cannot spell.
inline double jsonError(double error) {
  return std::isfinite(error) ? error : 1e300;
}

/// Prints one JSON line. \p info must be plain ASCII without quotes.
inline void report(const char *peer, const std::string &info,
                   const Options &opts, int64_t batch, const Timing &t,
                   const Accuracy &accuracy) {
  std::printf("{\"peer\": \"%s\", \"info\": \"%s\", \"precision\": \"%s\", "
              "\"batch\": %lld, \"threads\": %d, \"median_seconds\": %.6g, "
              "\"min_seconds\": %.6g, \"p10_seconds\": %.6g, \"p90_seconds\": "
              "%.6g, \"max_seconds\": %.6g, \"samples\": %u, "
              "\"runs_per_sample\": %llu, \"max_abs_error\": %.3g, "
              "\"rel_error\": %.3g}\n",
              peer, info.c_str(), precisionName(opts.precision),
              (long long)batch, opts.threads, t.median, t.min, t.p10, t.p90,
              t.max, t.samples, (unsigned long long)t.runsPerSample,
              jsonError(accuracy.maxAbs), jsonError(accuracy.relative));
  std::fflush(stdout);
}

} // namespace peer

#endif // SEQC_BENCH_PEERS_PEERHARNESS_H
