//===- ObjectCacheTest.cpp - support/ObjectCache: the on-disk cache -------===//
//
// Part of seqc. A stored entry is found again under its key and only its
// key; a damaged or foreign entry is detected, removed and never returned;
// a full cache evicts the least recently used entries (a hit counts as a
// use); processes that race to write and read one entry never see part of
// one; and a directory that cannot be created costs the entry only.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/ObjectCache.h"

#include "compiler/support/FileIO.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace seqc;

namespace {

/// A fresh directory for one test.
struct TempDir {
  TempDir() : dir("seqc-cache-test"), path(dir.path()) {
    REQUIRE(!path.empty());
  }
  std::vector<std::string> files() const { return dir.fileNames(); }
  TemporaryDirectory dir;
  std::string path;
};

Sha256Digest keyOf(std::string_view text) { return Sha256::of(text); }

/// Sets the modification time of \p path to \p seconds after the epoch.
void setMtime(const std::string &path, time_t seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

/// Overwrites the byte at \p offset of \p path with its complement.
void flipByte(const std::string &path, size_t offset) {
  std::string error;
  auto contents = readFile(path, 1 << 30, error);
  REQUIRE(contents);
  REQUIRE(offset < contents->size());
  (*contents)[offset] = static_cast<char>(~(*contents)[offset]);
  REQUIRE(writeFileAtomic(path, *contents, error));
}

} // namespace

TEST_CASE("a stored entry is a hit for its key and a miss for others") {
  TempDir dir;
  ObjectCache cache(dir.path);
  std::string payload, error;
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Miss);
  REQUIRE(cache.store(keyOf("a"), "object bytes\0with a zero", error));
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Hit);
  CHECK(payload == "object bytes\0with a zero");
  CHECK(cache.load(keyOf("b"), payload) == ObjectCache::Outcome::Miss);
  CHECK(payload.empty());
  // One entry, no temporary file left behind.
  CHECK(dir.files() ==
        std::vector<std::string>{toHex(keyOf("a")) + ".seqcobj"});
  // An empty payload is an entry too.
  REQUIRE(cache.store(keyOf("empty"), "", error));
  CHECK(cache.load(keyOf("empty"), payload) == ObjectCache::Outcome::Hit);
  CHECK(payload.empty());
}

TEST_CASE("a disabled cache stores and finds nothing") {
  ObjectCache cache("");
  std::string payload, error;
  CHECK(!cache.enabled());
  CHECK(cache.store(keyOf("a"), "x", error));
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Disabled);
}

TEST_CASE("a corrupt or foreign entry is detected and removed") {
  TempDir dir;
  ObjectCache cache(dir.path);
  std::string payload, error;
  std::string object(1000, 'x');
  std::string path = cache.entryPath(keyOf("a"));
  // Every field of the header and a byte of the payload.
  for (size_t offset : {size_t(0), size_t(8), size_t(16), size_t(47),
                        size_t(48), size_t(56), size_t(87), size_t(500)}) {
    CAPTURE(offset);
    REQUIRE(cache.store(keyOf("a"), object, error));
    flipByte(path, offset + (offset == 500 ? ObjectCache::kHeaderBytes : 0));
    CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Corrupt);
    CHECK(payload.empty());
    CHECK(::access(path.c_str(), F_OK) != 0);
    CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Miss);
  }
  // Truncated, and another key's entry under this key's name.
  REQUIRE(cache.store(keyOf("a"), object, error));
  REQUIRE(::truncate(path.c_str(), ObjectCache::kHeaderBytes + 10) == 0);
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Corrupt);
  REQUIRE(cache.store(keyOf("b"), object, error));
  REQUIRE(::rename(cache.entryPath(keyOf("b")).c_str(), path.c_str()) == 0);
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Corrupt);
  // Rebuilt: stored again, it is a hit.
  REQUIRE(cache.store(keyOf("a"), object, error));
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Hit);
  CHECK(payload == object);
}

TEST_CASE("a full cache evicts the least recently used entries") {
  TempDir dir;
  std::string entry(1000, 'e');
  uint64_t entryBytes = ObjectCache::kHeaderBytes + entry.size();
  // Room for three entries, not four.
  ObjectCache cache(dir.path, 3 * entryBytes + 10);
  std::string payload, error;
  for (const char *k : {"a", "b", "c"})
    REQUIRE(cache.store(keyOf(k), entry, error));
  setMtime(cache.entryPath(keyOf("a")), 1000);
  setMtime(cache.entryPath(keyOf("b")), 2000);
  setMtime(cache.entryPath(keyOf("c")), 3000);
  // A hit makes "a" the most recently used, so "b" is the oldest now.
  REQUIRE(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Hit);
  REQUIRE(cache.store(keyOf("d"), entry, error));
  CHECK(dir.files().size() == 3);
  CHECK(cache.load(keyOf("b"), payload) == ObjectCache::Outcome::Miss);
  for (const char *k : {"a", "c", "d"})
    CHECK(cache.load(keyOf(k), payload) == ObjectCache::Outcome::Hit);
  // An entry larger than the whole cache is not stored (and evicts
  // nothing).
  REQUIRE(cache.store(keyOf("huge"), std::string(4 * entryBytes, 'h'), error));
  CHECK(cache.load(keyOf("huge"), payload) == ObjectCache::Outcome::Miss);
  CHECK(dir.files().size() == 3);
}

TEST_CASE("processes racing for one entry never see part of it") {
  TempDir dir;
  ObjectCache cache(dir.path);
  // Large enough that a write takes several system calls.
  std::string object;
  for (int i = 0; i < (4 << 20); ++i)
    object += static_cast<char>(i * 7 + (i >> 12));
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Each child reads and writes the same entry over and over; it
      // exits with 1 if it ever reads anything but a miss or the whole
      // object.
      int status = 0;
      std::string payload, error;
      for (int round = 0; round < 10; ++round) {
        ObjectCache::Outcome o = cache.load(keyOf("same"), payload);
        if (o == ObjectCache::Outcome::Corrupt ||
            (o == ObjectCache::Outcome::Hit && payload != object))
          status = 1;
        if (!cache.store(keyOf("same"), object, error))
          status = 2;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::string payload;
  CHECK(cache.load(keyOf("same"), payload) == ObjectCache::Outcome::Hit);
  CHECK(payload == object);
  CHECK(dir.files() ==
        std::vector<std::string>{toHex(keyOf("same")) + ".seqcobj"});
}

TEST_CASE("a cache directory that cannot be created is not fatal") {
  TempDir dir;
  std::string file = joinPath(dir.path, "a-file");
  std::string error;
  REQUIRE(writeFileAtomic(file, "not a directory", error));
  // Even root cannot make a directory under a regular file.
  ObjectCache cache(joinPath(file, "cache"));
  std::string payload;
  CHECK(!cache.store(keyOf("a"), "x", error));
  CHECK(error.find(joinPath(file, "cache")) != std::string::npos);
  CHECK(cache.load(keyOf("a"), payload) == ObjectCache::Outcome::Miss);
}

TEST_CASE("the default directory follows SEQC_CACHE_DIR, XDG and HOME") {
  auto restore = [](const char *name, const char *old) {
    if (old)
      ::setenv(name, old, 1);
    else
      ::unsetenv(name);
  };
  std::string oldDir =
      std::getenv("SEQC_CACHE_DIR") ? std::getenv("SEQC_CACHE_DIR") : "";
  bool hadDir = std::getenv("SEQC_CACHE_DIR") != nullptr;
  std::string oldXdg =
      std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : "";
  bool hadXdg = std::getenv("XDG_CACHE_HOME") != nullptr;
  ::setenv("SEQC_CACHE_DIR", "/some/where", 1);
  CHECK(ObjectCache::defaultDirectory() == "/some/where");
  ::setenv("SEQC_CACHE_DIR", "off", 1);
  CHECK(ObjectCache::defaultDirectory().empty());
  ::unsetenv("SEQC_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  CHECK(ObjectCache::defaultDirectory() == "/xdg/seqc");
  ::setenv("SEQC_CACHE_MAX_MB", "3", 1);
  CHECK(ObjectCache::defaultMaxBytes() == 3u << 20);
  ::setenv("SEQC_CACHE_MAX_MB", "lots", 1);
  CHECK(ObjectCache::defaultMaxBytes() == ObjectCache::kDefaultMaxBytes);
  ::unsetenv("SEQC_CACHE_MAX_MB");
  restore("SEQC_CACHE_DIR", hadDir ? oldDir.c_str() : nullptr);
  restore("XDG_CACHE_HOME", hadXdg ? oldXdg.c_str() : nullptr);
}

TEST_CASE("the build id names this binary and is stable") {
  std::string id = seqcBuildId();
  CHECK(!id.empty());
  CHECK(id == seqcBuildId());
  CHECK(id.find("unknown") == std::string::npos);
}
