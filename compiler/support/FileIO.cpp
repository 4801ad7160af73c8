//===- FileIO.cpp - Reading inputs and writing outputs safely -------------===//

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace seqc {

std::optional<std::string> readFile(const std::string &path, uint64_t maxBytes,
                                    std::string &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("cannot open '{}': {}", path, std::strerror(errno));
    return std::nullopt;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = fmt::format("cannot read '{}': not a regular file", path);
    ::close(fd);
    return std::nullopt;
  }
  if (static_cast<uint64_t>(st.st_size) > maxBytes) {
    error = fmt::format("'{}' is {} bytes, more than the limit of {} bytes",
                        path, st.st_size, maxBytes);
    ::close(fd);
    return std::nullopt;
  }
  std::string contents;
  contents.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::read(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error =
          fmt::format("cannot read '{}': {}", path,
                      n == 0 ? "unexpected end of file" : std::strerror(errno));
      ::close(fd);
      return std::nullopt;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return contents;
}

bool writeFileAtomic(const std::string &path, std::string_view contents,
                     std::string &error) {
  return writeFileAtomic(path, std::vector<std::string_view>{contents}, error);
}

bool writeFileAtomic(const std::string &path,
                     const std::vector<std::string_view> &pieces,
                     std::string &error) {
  std::string tmp = path + ".seqc-tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    error = fmt::format("cannot create '{}': {}", path, std::strerror(errno));
    return false;
  }
  for (std::string_view contents : pieces) {
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        error =
            fmt::format("cannot write '{}': {}", path, std::strerror(errno));
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
      }
      done += static_cast<size_t>(n);
    }
  }
  ::fchmod(fd, 0644);
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool isSameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0)
    return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string parentDirectory(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string joinPath(const std::string &dir, const std::string &path) {
  if (path.empty() || path[0] == '/' || dir.empty())
    return path;
  return dir.back() == '/' ? dir + path : dir + "/" + path;
}

} // namespace seqc
