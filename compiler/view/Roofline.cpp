//===- Roofline.cpp - The roofline chart as SVG ---------------------------===//
//
// Written directly as SVG text: log-log axes over whole decades that hold
// every point, the ridge and the peak; the memory slope (bandwidth x
// intensity) up to the ridge, the peak from there on; one point per stage
// with FLOPs, numbered as in the tables, with a legend beside the plot.
// Nothing else draws it, so the page needs no plotting library or script.
//
//===----------------------------------------------------------------------===//

#include "compiler/view/Profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace seqc::view {

namespace {

/// The plot area, in SVG user units.
constexpr double kLeft = 80, kRight = 540, kTop = 40, kBottom = 380;
constexpr double kWidth = 820, kLegendX = 560;
constexpr size_t kLegendChars = 36;

/// A logarithmic axis from \p lo to \p hi (whole decades) onto pixels
/// \p from to \p to.
struct LogAxis {
  double lo, hi, from, to;

  double at(double value) const {
    double t = (std::log10(value) - std::log10(lo)) /
               (std::log10(hi) - std::log10(lo));
    return from + t * (to - from);
  }
};

double decadeBelow(double value) {
  return std::pow(10.0, std::floor(std::log10(value)));
}
double decadeAbove(double value) {
  return std::pow(10.0, std::ceil(std::log10(value)));
}

/// Decades [lo, hi] around \p values, at least one wide; \p fallback when
/// there are none.
std::pair<double, double> decadesAround(const std::vector<double> &values,
                                        std::pair<double, double> fallback) {
  if (values.empty())
    return fallback;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  double from = decadeBelow(*lo / 2), to = decadeAbove(*hi * 2);
  return {from, std::max(to, from * 10)};
}

/// Grid lines and labels at every decade of both axes.
std::string grid(const LogAxis &x, const LogAxis &y) {
  std::string text;
  for (double v = x.lo; v <= x.hi * 1.001; v *= 10) {
    double px = x.at(v);
    text += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" "
                        "y2=\"{2}\" stroke=\"#e0e0e0\"/>\n<text x=\"{0:.1f}\" "
                        "y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                        px, kTop, kBottom, kBottom + 16, v);
  }
  for (double v = y.lo; v <= y.hi * 1.001; v *= 10) {
    double py = y.at(v);
    text += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" "
                        "y2=\"{1:.1f}\" stroke=\"#e0e0e0\"/>\n<text x=\"{3}\" "
                        "y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
                        kLeft, py, kRight, kLeft - 6, py + 4, v);
  }
  return text;
}

/// The memory slope up to the ridge and the peak from there, each drawn
/// only where the profile has it.
std::string roofs(const Profile &profile, const LogAxis &x, const LogAxis &y) {
  std::string text;
  double peak = profile.peakGflops, bw = profile.bandwidthGBs;
  double ridge = profile.ridge();
  if (bw > 0) {
    // Where bw * i enters and leaves the plot.
    double from = std::max(x.lo, y.lo / bw);
    double to = std::min(ridge > 0 ? ridge : x.hi, y.hi / bw);
    if (from < to) {
      double x1 = x.at(from), y1 = y.at(bw * from), x2 = x.at(to),
             y2 = y.at(bw * to);
      // The label sits above the middle of the slope, turned with it.
      double angle = std::atan2(y2 - y1, x2 - x1) * 180 / M_PI;
      double mx = (x1 + x2) / 2, my = (y1 + y2) / 2 - 6;
      text += fmt::format(
          "<line class=\"bandwidth\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" "
          "y2=\"{:.1f}\" stroke=\"#1f6fb2\" stroke-width=\"2\"/>\n<text "
          "x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#1f6fb2\" "
          "transform=\"rotate({:.1f} {:.1f} {:.1f})\">memory {:.1f} "
          "GB/s</text>\n",
          x1, y1, x2, y2, mx, my, angle, mx, my, bw);
    }
  }
  if (peak > 0) {
    double from = ridge > 0 ? std::max(ridge, x.lo) : x.lo;
    text += fmt::format(
        "<line class=\"peak\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{}\" "
        "y2=\"{:.1f}\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n<text "
        "x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#c0392b\">peak "
        "{:.1f} GFLOP/s</text>\n",
        x.at(from), y.at(peak), kRight, y.at(peak), kRight - 4, y.at(peak) - 6,
        peak);
  }
  return text;
}

/// Where the numbers of the points drawn so far sit.
using Placed = std::vector<std::pair<double, double>>;

/// One point and its number, right of it and moved down while it would
/// cover a number already drawn (layers of the same shape land on one
/// spot); its <title> shows the figures on hover.
std::string point(const StageTime &stage, const LogAxis &x, const LogAxis &y,
                  Placed &placed) {
  double px = x.at(stage.intensity()), py = y.at(stage.gflops());
  double lx = px + 8, ly = py + 4;
  auto covers = [&](const std::pair<double, double> &other) {
    return std::abs(other.first - lx) < 16 && std::abs(other.second - ly) < 12;
  };
  while (std::any_of(placed.begin(), placed.end(), covers))
    ly += 12;
  placed.emplace_back(lx, ly);
  return fmt::format(
      "<g class=\"stage\" data-stage=\"{0}\"><title>{0}: {1}: {2:.2f} "
      "GFLOP/s at {3:.3g} FLOP/byte</title><circle cx=\"{4:.1f}\" "
      "cy=\"{5:.1f}\" r=\"5\" fill=\"#333333\"/><text x=\"{6:.1f}\" "
      "y=\"{7:.1f}\">{0}</text></g>\n",
      stage.index, escapeHtml(stage.label), stage.gflops(), stage.intensity(),
      px, py, lx, ly);
}

std::string legendLine(const StageTime &stage, double top) {
  std::string label = stage.label;
  if (label.size() > kLegendChars)
    label = label.substr(0, kLegendChars - 3) + "...";
  return fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}: {}</text>\n", kLegendX,
                     top, stage.index, escapeHtml(label));
}

} // namespace

std::string writeRooflineSvg(const Graph &graph, const Profile &profile) {
  std::vector<double> intensities, rates;
  for (const StageTime &stage : profile.stages)
    if (stage.plotted()) {
      intensities.push_back(stage.intensity());
      rates.push_back(stage.gflops());
    }
  // The axes hold the points and the roofs' corner, the ridge at the peak.
  std::vector<double> xs = intensities, ys = rates;
  if (profile.ridge() > 0)
    xs.push_back(profile.ridge());
  if (profile.peakGflops > 0)
    ys.push_back(profile.peakGflops);
  auto [xLo, xHi] = decadesAround(xs, {0.1, 100});
  auto [yLo, yHi] = decadesAround(ys, {1, 1000});
  LogAxis x{xLo, xHi, kLeft, kRight}, y{yLo, yHi, kBottom, kTop};

  size_t legendLines = intensities.size() + 1;
  double height = std::max(kBottom + 50, kTop + 18.0 * double(legendLines));
  std::string text = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "
      "xmlns=\"http://www.w3.org/2000/svg\" class=\"roofline\" "
      "width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
      "<title>{2}: roofline at batch {3}</title>\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{4}\" y=\"22\" font-size=\"14\">{2}: roofline at batch "
      "{3}</text>\n",
      kWidth, height, escapeHtml(graph.modelName), profile.batch, kLeft);
  text += grid(x, y);
  text += fmt::format(
      "<rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" fill=\"none\" "
      "stroke=\"#555555\"/>\n<text x=\"{4}\" y=\"{5}\" "
      "text-anchor=\"middle\">arithmetic intensity (FLOP per byte of weights "
      "and activations)</text>\n<text x=\"20\" y=\"{6}\" "
      "text-anchor=\"middle\" transform=\"rotate(-90 20 {6})\">GFLOP/s</text>"
      "\n",
      kLeft, kTop, kRight - kLeft, kBottom - kTop, (kLeft + kRight) / 2,
      kBottom + 36, (kTop + kBottom) / 2);
  text += roofs(profile, x, y);
  double top = kTop + 12;
  text += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-weight=\"bold\">"
                      "stages</text>\n",
                      kLegendX, top);
  Placed placed;
  for (const StageTime &stage : profile.stages)
    if (stage.plotted()) {
      text += point(stage, x, y, placed);
      text += legendLine(stage, top += 18);
    }
  return text + "</svg>\n";
}

} // namespace seqc::view
