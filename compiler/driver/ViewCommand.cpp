//===- ViewCommand.cpp - seqc view ----------------------------------------===//
//
// Part of seqc. Draws the source layers inside the kernels or stages that
// --target's backend plans for the fused IR. The backend hooks turn either
// plan into neutral groups of fused ops; compiler/view does the rest.
//
//===----------------------------------------------------------------------===//

#include "compiler/driver/Commands.h"
#include "compiler/driver/Pictures.h"
#include "compiler/driver/Pipeline.h"
#include "compiler/driver/Targets.h"
#include "compiler/view/GraphView.h"
#include "compiler/view/Graphviz.h"

#include <fmt/format.h>

#include <cassert>

namespace seqc::driver {

namespace {

enum class ViewFormat { Dot, Svg, Html };

/// The format -o asks for by its extension; nullopt (after reporting) for
/// any other.
std::optional<ViewFormat> viewFormat(const std::string &path,
                                     DiagnosticEngine &diag) {
  if (path.empty()) {
    diag.error("seqc view needs -o net.dot, net.svg or net.html (or -o - for "
               "DOT on stdout)");
    return std::nullopt;
  }
  if (path == "-")
    return ViewFormat::Dot;
  size_t dot = path.find_last_of('.'), slash = path.find_last_of('/');
  std::string ext =
      dot == std::string::npos || (slash != std::string::npos && dot < slash)
          ? ""
          : path.substr(dot);
  if (ext == ".dot" || ext == ".gv")
    return ViewFormat::Dot;
  if (ext == ".svg")
    return ViewFormat::Svg;
  if (ext == ".html" || ext == ".htm")
    return ViewFormat::Html;
  diag.error(fmt::format("cannot tell what to write to '{}' from its "
                         "extension{}; use .dot, .svg or .html",
                         path, ext.empty() ? "" : " '" + ext + "'"));
  return std::nullopt;
}

/// The groups --target's backend makes of \p fused.
bool viewGroups([[maybe_unused]] const ir::Model &fused,
                const DriverOptions &opts, std::vector<view::Group> &groups,
                view::ViewTarget &target, DiagnosticEngine &diag) {
  if (!targetBuilt(opts.target, diag))
    return false;
#ifdef SEQC_HAVE_LLVM
  if (opts.target == Target::Cpu)
    return cpuViewGroups(fused, opts, groups, target, diag);
#endif
#ifdef SEQC_HAVE_CUDA
  if (opts.target == Target::Cuda)
    return cudaViewGroups(fused, opts, groups, target, diag);
#endif
  assert(false && "targetBuilt checked that the target is built");
  return false;
}

} // namespace

bool buildViewGraph(const ir::Model &checked, const ir::Model &fused,
                    const DriverOptions &opts, view::Graph &graph,
                    view::ViewTarget &target, DiagnosticEngine &diag) {
  std::vector<view::Group> groups;
  if (!viewGroups(fused, opts, groups, target, diag))
    return false;
  std::string error;
  if (!view::buildGraph(checked, fused, std::move(groups), target, graph,
                        error)) {
    diag.error(fmt::format("cannot draw model '{}': {}", checked.name, error));
    return false;
  }
  return true;
}

int runViewCommand(const DriverOptions &opts) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::optional<ViewFormat> format = viewFormat(opts.output, diag);
  if (!format)
    return 1;
  // Graphviz is looked for first, so that a missing one costs no compile.
  std::string dotPath;
  if (*format != ViewFormat::Dot && (dotPath = view::findDot()).empty()) {
    diag.error(fmt::format("'{}' needs Graphviz's dot, which is not on PATH: "
                           "install Graphviz (Debian: apt install graphviz), "
                           "or write DOT without it with -o net.dot",
                           opts.output));
    return 2;
  }
  std::unique_ptr<ir::Model> checked = loadCheckedModel(opts, sourceMgr, diag);
  if (!checked)
    return 1;
  ir::Model fused = *checked;
  if (!optimizeModel(fused, opts, diag))
    return 1;
  view::Graph graph;
  view::ViewTarget target;
  if (!buildViewGraph(*checked, fused, opts, graph, target, diag))
    return 1;
  std::string dot = view::writeDot(graph);
  if (*format == ViewFormat::Dot)
    return writeOutput(opts, dot, diag);
  std::string svg, error;
  if (!view::renderSvg(dotPath, dot, svg, error)) {
    diag.error(error);
    return 2;
  }
  return writeOutput(
      opts, *format == ViewFormat::Svg ? svg : view::writeHtml(graph, svg),
      diag);
}

} // namespace seqc::driver
