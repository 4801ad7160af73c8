//===- Units.cpp - Times, sizes and counts for people ---------------------===//

#include "compiler/bench/Units.h"

#include <fmt/format.h>

#include <cmath>

namespace seqc::bench {

std::string formatSeconds(double seconds) {
  if (!std::isfinite(seconds))
    return "-";
  double value = seconds * 1e9;
  const char *unit = "ns";
  if (seconds >= 1.0) {
    value = seconds;
    unit = "s";
  } else if (seconds >= 1e-3) {
    value = seconds * 1e3;
    unit = "ms";
  } else if (seconds >= 1e-6) {
    value = seconds * 1e6;
    unit = "us";
  }
  int decimals = value >= 100 ? 1 : value >= 10 ? 2 : 3;
  return fmt::format("{:.{}f} {}", value, decimals, unit);
}

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  if (bytes < (1u << 20))
    return fmt::format("{:.1f} KiB", double(bytes) / 1024);
  if (bytes < (1u << 30))
    return fmt::format("{:.2f} MiB", double(bytes) / (1 << 20));
  return fmt::format("{:.2f} GiB", double(bytes) / (1 << 30));
}

std::string formatCount(double count) {
  if (count >= 1e9)
    return fmt::format("{:.2f} G", count * 1e-9);
  if (count >= 1e6)
    return fmt::format("{:.2f} M", count * 1e-6);
  if (count >= 1e3)
    return fmt::format("{:.2f} k", count * 1e-3);
  return fmt::format("{:.0f} ", count);
}

} // namespace seqc::bench
