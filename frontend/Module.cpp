//===- Module.cpp - Layer objects built from a .nn file -------------------===//

#include "frontend/Module.h"

namespace seqc::frontend {

ModuleParam *Module::findParam(std::string_view name) {
  for (ModuleParam &param : params)
    if (param.name == name)
      return &param;
  return nullptr;
}

const ModuleParam *Module::findParam(std::string_view name) const {
  return const_cast<Module *>(this)->findParam(name);
}

static void visitParams(Module &module, const std::string &prefix,
                        const std::function<void(const std::string &, Module &,
                                                 ModuleParam &)> &visit) {
  for (ModuleParam &param : module.params)
    visit(prefix + param.name, module, param);
  for (size_t i = 0; i < module.children.size(); ++i)
    visitParams(*module.children[i], prefix + module.childNames[i] + ".",
                visit);
}

void forEachParam(Module &root,
                  const std::function<void(const std::string &, Module &,
                                           ModuleParam &)> &visit) {
  visitParams(root, "", visit);
}

} // namespace seqc::frontend
