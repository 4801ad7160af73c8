//===- FileIO.cpp - Reading inputs and writing outputs safely -------------===//

#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
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
  AtomicFile file;
  if (!file.open(path, error))
    return false;
  for (std::string_view contents : pieces)
    if (!file.write(contents, error))
      return false;
  return file.commit(error);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

bool AtomicFile::open(const std::string &path, std::string &error) {
  assert(fd_ < 0 && "AtomicFile opened twice");
  path_ = path;
  tmp_ = path + ".seqc-tmp-XXXXXX";
  fd_ = ::mkstemp(tmp_.data());
  if (fd_ < 0) {
    error = fmt::format("cannot create '{}': {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

bool AtomicFile::write(std::string_view contents, std::string &error) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd_, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = fmt::format("cannot write '{}': {}", path_, std::strerror(errno));
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool AtomicFile::commit(std::string &error) {
  assert(fd_ >= 0 && "AtomicFile committed before open() or twice");
  ::fchmod(fd_, 0644);
  int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    error = fmt::format("cannot write '{}': {}", path_, std::strerror(errno));
    ::unlink(tmp_.c_str());
    return false;
  }
  return true;
}

TemporaryDirectory::TemporaryDirectory(const std::string &stem) {
  const char *base = std::getenv("TMPDIR");
  std::string path = joinPath(base && *base ? base : "/tmp", stem + "-XXXXXX");
  if (::mkdtemp(path.data()))
    path_ = std::move(path);
}

TemporaryDirectory::~TemporaryDirectory() {
  if (path_.empty())
    return;
  for (const std::string &name : fileNames())
    ::unlink(joinPath(path_, name).c_str());
  ::rmdir(path_.c_str());
}

std::vector<std::string> TemporaryDirectory::fileNames() const {
  std::vector<std::string> names;
  if (DIR *dir = ::opendir(path_.c_str())) {
    while (struct dirent *entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..")
        names.push_back(std::move(name));
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
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
