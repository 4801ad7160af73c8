//===- ObjectCache.h - A persistent, size-bounded compile cache -*- C++ -*-===//
//
// Part of seqc. Keeps compiled code on disk so that a model is never
// compiled twice: one file per entry, named by the hex SHA-256 of its key,
// in a directory that several processes may share. Entries are written to a
// temporary file and renamed into place, carry a header (magic, format
// version, the full key and the payload's SHA-256) that every read checks,
// and the directory is kept under a size bound by evicting the least
// recently used entries (a hit refreshes the entry's modification time).
// The cache is an optimisation: a corrupt or foreign entry is removed and
// reported as such, never returned, and a directory that cannot be written
// costs only the entry. docs/cache.md describes it for users.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_OBJECTCACHE_H
#define SEQC_SUPPORT_OBJECTCACHE_H

#include "compiler/support/Sha256.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace seqc {

class ObjectCache {
public:
  /// The size bound when SEQC_CACHE_MAX_MB does not set one: 256 MiB.
  static constexpr uint64_t kDefaultMaxBytes = uint64_t(256) << 20;
  /// Bytes of an entry's header, before the payload.
  static constexpr size_t kHeaderBytes = 88;
  /// The file name extension of entries (other files are left alone).
  static constexpr std::string_view kExtension = ".seqcobj";

  enum class Outcome {
    Hit,      ///< the payload was read and checked
    Miss,     ///< no entry for the key
    Corrupt,  ///< an entry was there but failed a check; it was removed
    Disabled, ///< the cache has no directory
  };

  /// A cache in \p directory (created on the first store; empty disables
  /// the cache) that keeps at most \p maxBytes of entries.
  explicit ObjectCache(std::string directory,
                       uint64_t maxBytes = kDefaultMaxBytes);

  /// $SEQC_CACHE_DIR, else $XDG_CACHE_HOME/seqc, else $HOME/.cache/seqc;
  /// empty (no cache) when SEQC_CACHE_DIR is "off" or "0" or nothing
  /// applies.
  static std::string defaultDirectory();
  /// $SEQC_CACHE_MAX_MB mebibytes when it is a positive integer, else
  /// kDefaultMaxBytes.
  static uint64_t defaultMaxBytes();

  bool enabled() const { return !directory_.empty(); }
  const std::string &directory() const { return directory_; }
  uint64_t maxBytes() const { return maxBytes_; }
  /// The file that holds (or would hold) the entry for \p key.
  std::string entryPath(const Sha256Digest &key) const;

  /// Reads the entry for \p key into \p payload. On a hit, marks the entry
  /// as recently used. An entry that is truncated, has another magic,
  /// version or key, or whose payload does not match its checksum is
  /// removed and reported as Corrupt; \p payload is then empty.
  Outcome load(const Sha256Digest &key, std::string &payload) const;

  /// Writes the entry for \p key atomically (a concurrent reader sees the
  /// old entry, the new one or none, never part of one), then evicts the
  /// least recently used entries until the directory holds at most
  /// maxBytes(). An entry larger than maxBytes() is not stored. Returns
  /// false and sets \p error (naming the directory) when the directory
  /// cannot be created or written.
  bool store(const Sha256Digest &key, std::string_view payload,
             std::string &error) const;

private:
  /// Removes the oldest entries until at most maxBytes() remain, and
  /// temporary files that a killed writer left more than an hour ago.
  void evict() const;

  std::string directory_;
  uint64_t maxBytes_;
};

/// The spelling of \p outcome for notes and reports: "hit", "miss",
/// "corrupt", "disabled".
std::string_view outcomeName(ObjectCache::Outcome outcome);

/// Identifies the binary file (executable or shared library) that holds
/// the code at \p address: its path, device, inode, size and modification
/// time, so that it changes whenever that file is rebuilt or replaced.
/// Costs one dladdr and one stat.
std::string codeFileIdentity(const void *address);

/// seqc's own build id, part of every cache key: the identity of the
/// binary that holds seqc's compiler (codeFileIdentity), so that a rebuilt
/// compiler never reads the code an older one cached.
std::string seqcBuildId();

} // namespace seqc

#endif // SEQC_SUPPORT_OBJECTCACHE_H
