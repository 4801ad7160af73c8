//===- JsonReport.cpp - seqc bench's JSON lines for scripts ---------------===//

#include "compiler/bench/JsonWriter.h"
#include "compiler/bench/Report.h"

namespace seqc::bench {

namespace {

/// The fields that say which stage a --layers line is about.
void stageFields(JsonObjectWriter &json, const StageReport &stage) {
  json.integer("stage", stage.index)
      .string("stage_kind", stageKindName(stage.stage.kind))
      .integer("first_op", stage.stage.firstOp)
      .integer("last_op", stage.stage.lastOp)
      .string("stage_label", stage.label);
}

/// The latency distribution and the rates derived from its median.
void timingFields(JsonObjectWriter &json, const RunInfo &info,
                  const BatchTiming &t) {
  const Spread &s = t.spread;
  double perSample = s.median / double(t.batch);
  double gflops = gflopsAt(info.flops, t);
  std::optional<double> peak = peakGflops(info);
  json.number("median_seconds", s.median)
      .number("min_seconds", s.min)
      .number("p10_seconds", s.p10)
      .number("p90_seconds", s.p90)
      .number("max_seconds", s.max)
      .number("seconds_per_sample", perSample)
      .number("samples_per_second", 1.0 / perSample)
      .integer("flops_per_sample", info.flops)
      .number("gflops", gflops)
      .optionalNumber("peak_gflops", info.peak
                                         ? std::optional(info.peak->gflops)
                                         : std::nullopt)
      .optionalNumber("peak_fraction",
                      peak ? std::optional(gflops / *peak) : std::nullopt)
      .optionalString("peak_isa", info.peak
                                      ? std::optional(peakName(*info.peak))
                                      : std::nullopt)
      .integer("samples", t.samples)
      .integer("runs_per_sample", t.runsPerSample);
}

/// What the build cost and what it checked.
void buildFields(JsonObjectWriter &json, const RunInfo &info,
                 const ReferenceError &error) {
  json.number("frontend_seconds", info.frontendSeconds)
      .optionalNumber("compile_seconds", info.compileSeconds)
      .optionalNumber("warm_compile_seconds", info.warmCompileSeconds)
      .optionalInteger("artifact_bytes", info.artifactBytes
                                             ? std::optional(info.artifactBytes)
                                             : std::nullopt)
      .integer("weight_bytes", info.weightBytes)
      .optionalInteger("huge_page_bytes", info.hugePageBytes)
      .optionalNumber("max_abs_error", error.maxAbsError)
      .optionalNumber("ref_max_abs", error.maxAbsError
                                         ? std::optional(error.refMaxAbs)
                                         : std::nullopt);
}

} // namespace

std::string jsonLine(const RunInfo &info, const BatchResult &result,
                     const StageReport *stage) {
  JsonObjectWriter json;
  json.string("file", info.file)
      .string("model", info.model)
      .string("backend", info.backend);
  if (stage)
    stageFields(json, *stage);
  json.integer("batch", result.timing.batch).integer("threads", info.threads);
  timingFields(json, info, result.timing);
  buildFields(json, info, result.error);
  json.string("cpu", info.cpuName)
      .integer("hardware_threads", info.hardwareThreads);
  return json.str() + "\n";
}

} // namespace seqc::bench
