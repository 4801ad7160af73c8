//===- SourceManager.cpp - Source buffers and locations -------------------===//

#include "compiler/support/SourceManager.h"

#include <cassert>

namespace seqc {

uint32_t SourceManager::addBuffer(std::string path, std::string contents) {
  Buffer buffer;
  buffer.path = std::move(path);
  buffer.text = std::move(contents);
  buffer.lineStarts.push_back(0);
  for (size_t i = 0; i < buffer.text.size(); ++i)
    if (buffer.text[i] == '\n')
      buffer.lineStarts.push_back(i + 1);
  buffers.push_back(std::move(buffer));
  return static_cast<uint32_t>(buffers.size());
}

const std::string &SourceManager::getPath(uint32_t bufferId) const {
  assert(bufferId != 0 && bufferId <= buffers.size() && "bad buffer id");
  return buffers[bufferId - 1].path;
}

std::string_view SourceManager::getText(uint32_t bufferId) const {
  assert(bufferId != 0 && bufferId <= buffers.size() && "bad buffer id");
  return buffers[bufferId - 1].text;
}

std::string_view SourceManager::getLine(uint32_t bufferId,
                                        uint32_t line) const {
  assert(bufferId != 0 && bufferId <= buffers.size() && "bad buffer id");
  const Buffer &buffer = buffers[bufferId - 1];
  if (line == 0 || line > buffer.lineStarts.size())
    return {};
  size_t begin = buffer.lineStarts[line - 1];
  size_t end = line < buffer.lineStarts.size() ? buffer.lineStarts[line] - 1
                                               : buffer.text.size();
  std::string_view text(buffer.text);
  std::string_view result = text.substr(begin, end - begin);
  if (!result.empty() && result.back() == '\r')
    result.remove_suffix(1);
  return result;
}

} // namespace seqc
