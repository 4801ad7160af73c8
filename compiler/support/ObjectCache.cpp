//===- ObjectCache.cpp - A persistent, size-bounded compile cache ---------===//

#include "compiler/support/ObjectCache.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/FileIO.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace seqc {

namespace {

/// The header: magic, version, a reserved word, the key, the payload's
/// size and its SHA-256; all integers little-endian.
constexpr char kMagic[8] = {'S', 'E', 'Q', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kVersionOffset = 8;
constexpr size_t kKeyOffset = 16;
constexpr size_t kSizeOffset = 48;
constexpr size_t kChecksumOffset = 56;
static_assert(kChecksumOffset + 32 == ObjectCache::kHeaderBytes);

/// Entries are never near this size; the bound keeps a damaged size field
/// from asking for an absurd allocation.
constexpr uint64_t kMaxEntryBytes = uint64_t(4) << 30;
/// Temporary files older than this belong to a writer that died.
constexpr time_t kStaleTempSeconds = 3600;

std::string makeHeader(const Sha256Digest &key, std::string_view payload) {
  std::string header(kMagic, sizeof(kMagic));
  appendLE32(header, kFormatVersion);
  appendLE32(header, 0);
  header.append(reinterpret_cast<const char *>(key.data()), key.size());
  appendLE64(header, payload.size());
  Sha256Digest sum = Sha256::of(payload);
  header.append(reinterpret_cast<const char *>(sum.data()), sum.size());
  return header;
}

/// True when \p entry is a complete entry for \p key.
bool isValidEntry(const std::string &entry, const Sha256Digest &key) {
  if (entry.size() < ObjectCache::kHeaderBytes)
    return false;
  const auto *bytes = reinterpret_cast<const unsigned char *>(entry.data());
  if (std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0 ||
      loadLE32(bytes + kVersionOffset) != kFormatVersion ||
      std::memcmp(bytes + kKeyOffset, key.data(), key.size()) != 0 ||
      loadLE64(bytes + kSizeOffset) != entry.size() - ObjectCache::kHeaderBytes)
    return false;
  Sha256Digest sum =
      Sha256::of(std::string_view(entry).substr(ObjectCache::kHeaderBytes));
  return std::memcmp(bytes + kChecksumOffset, sum.data(), sum.size()) == 0;
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

/// Creates \p dir and its parents (mode 0755); true when it exists.
bool makeDirectories(const std::string &dir, std::string &error) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return true;
    error = fmt::format("'{}' is not a directory", dir);
    return false;
  }
  std::string parent = parentDirectory(dir);
  if (!parent.empty() && parent != dir && !makeDirectories(parent, error))
    return false;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    error = fmt::format("cannot create '{}': {}", dir, std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace

ObjectCache::ObjectCache(std::string directory, uint64_t maxBytes)
    : directory_(std::move(directory)), maxBytes_(maxBytes) {}

std::string ObjectCache::defaultDirectory() {
  if (const char *dir = std::getenv("SEQC_CACHE_DIR"); dir && *dir) {
    std::string value = dir;
    return value == "off" || value == "0" ? std::string() : value;
  }
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/')
    return joinPath(xdg, "seqc");
  if (const char *home = std::getenv("HOME"); home && *home)
    return joinPath(home, ".cache/seqc");
  return "";
}

uint64_t ObjectCache::defaultMaxBytes() {
  const char *text = std::getenv("SEQC_CACHE_MAX_MB");
  if (!text || !*text)
    return kDefaultMaxBytes;
  char *end = nullptr;
  errno = 0;
  unsigned long long mib = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || mib == 0 || mib > (uint64_t(1) << 40))
    return kDefaultMaxBytes;
  return uint64_t(mib) << 20;
}

std::string ObjectCache::entryPath(const Sha256Digest &key) const {
  return joinPath(directory_, toHex(key) + std::string(kExtension));
}

ObjectCache::Outcome ObjectCache::load(const Sha256Digest &key,
                                       std::string &payload) const {
  payload.clear();
  if (!enabled())
    return Outcome::Disabled;
  std::string path = entryPath(key);
  std::string error;
  std::optional<std::string> entry = readFile(path, kMaxEntryBytes, error);
  if (!entry)
    return ::access(path.c_str(), F_OK) == 0 ? Outcome::Corrupt : Outcome::Miss;
  if (!isValidEntry(*entry, key)) {
    // A writer renames only complete entries into place, so this one was
    // damaged afterwards or written by something else: drop it.
    ::unlink(path.c_str());
    return Outcome::Corrupt;
  }
  // Marks the entry as recently used for eviction.
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  payload.assign(*entry, kHeaderBytes);
  return Outcome::Hit;
}

bool ObjectCache::store(const Sha256Digest &key, std::string_view payload,
                        std::string &error) const {
  if (!enabled())
    return true;
  if (kHeaderBytes + payload.size() > maxBytes_)
    return true;
  if (!makeDirectories(directory_, error)) {
    error =
        fmt::format("cannot use the compile cache '{}': {}", directory_, error);
    return false;
  }
  std::string header = makeHeader(key, payload);
  std::string writeError;
  if (!writeFileAtomic(entryPath(key), {header, payload}, writeError)) {
    error = fmt::format("cannot write to the compile cache '{}': {}",
                        directory_, writeError);
    return false;
  }
  evict();
  return true;
}

void ObjectCache::evict() const {
  struct Entry {
    std::string path;
    uint64_t bytes;
    struct timespec mtime;
  };
  DIR *dir = ::opendir(directory_.c_str());
  if (!dir)
    return;
  std::vector<Entry> entries;
  uint64_t total = 0;
  time_t now = std::time(nullptr);
  while (struct dirent *d = ::readdir(dir)) {
    std::string_view name = d->d_name;
    bool isEntry = endsWith(name, kExtension);
    bool isTemp = name.find(".seqcobj.seqc-tmp-") != std::string_view::npos;
    if (!isEntry && !isTemp)
      continue;
    std::string path = joinPath(directory_, std::string(name));
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (isTemp) {
      if (now - st.st_mtime > kStaleTempSeconds)
        ::unlink(path.c_str());
      continue;
    }
    entries.push_back({std::move(path), uint64_t(st.st_size), st.st_mtim});
    total += uint64_t(st.st_size);
  }
  ::closedir(dir);
  if (total <= maxBytes_)
    return;
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec)
      return a.mtime.tv_sec < b.mtime.tv_sec;
    return a.mtime.tv_nsec < b.mtime.tv_nsec;
  });
  // Oldest first; another process may have removed one already, which
  // frees the same space.
  for (const Entry &e : entries) {
    if (total <= maxBytes_)
      break;
    ::unlink(e.path.c_str());
    total -= e.bytes;
  }
}

std::string_view outcomeName(ObjectCache::Outcome outcome) {
  switch (outcome) {
  case ObjectCache::Outcome::Hit:
    return "hit";
  case ObjectCache::Outcome::Miss:
    return "miss";
  case ObjectCache::Outcome::Corrupt:
    return "corrupt";
  case ObjectCache::Outcome::Disabled:
    return "disabled";
  }
  return "?";
}

std::string codeFileIdentity(const void *address) {
  Dl_info info{};
  std::string path;
  if (::dladdr(address, &info) != 0 && info.dli_fname && *info.dli_fname)
    path = info.dli_fname;
  // The main executable may be named as it was started (relative, or by
  // argv[0]); /proc/self/exe names it whatever the working directory is.
  if (path.empty() || path.front() != '/')
    path = "/proc/self/exe";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fmt::format("{} (unknown)", path);
  return fmt::format("{} {}:{} {} bytes mtime {}.{:09}", path, st.st_dev,
                     st.st_ino, st.st_size, st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec);
}

std::string seqcBuildId() {
  static const std::string id =
      codeFileIdentity(reinterpret_cast<const void *>(&seqcBuildId));
  return id;
}

} // namespace seqc
