//===- FileIO.h - Reading inputs and writing outputs safely -----*- C++ -*-===//
//
// Part of seqc. Inputs are read with a size bound; outputs are written to a
// temporary file beside the destination and renamed into place, so a failed
// run never leaves a half-written file.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_SUPPORT_FILEIO_H
#define SEQC_SUPPORT_FILEIO_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// Reads a whole regular file of at most \p maxBytes. On failure returns
/// nullopt and sets \p error to a message naming the file and the reason.
std::optional<std::string> readFile(const std::string &path, uint64_t maxBytes,
                                    std::string &error);

/// Writes \p contents to \p path atomically (temporary file + rename).
/// Returns false and sets \p error on failure; nothing is left behind then.
bool writeFileAtomic(const std::string &path, std::string_view contents,
                     std::string &error);
/// The same for a file made of \p pieces, written one after another.
bool writeFileAtomic(const std::string &path,
                     const std::vector<std::string_view> &pieces,
                     std::string &error);

/// An output file written in place of \p path only once complete: open()
/// creates a temporary file beside it, commit() renames it into place, and
/// one never committed is removed when the object goes. For outputs too big
/// to build in memory first (an object file with its weights).
class AtomicFile {
public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;
  ~AtomicFile();

  /// Creates the temporary file for \p path. Returns false and sets
  /// \p error (naming \p path) on failure.
  bool open(const std::string &path, std::string &error);
  /// The temporary file's descriptor (seekable), or -1 before open().
  int fd() const { return fd_; }
  /// Writes \p contents at the current position.
  bool write(std::string_view contents, std::string &error);
  /// Closes the file and renames it to the path given to open().
  bool commit(std::string &error);

private:
  std::string path_, tmp_;
  int fd_ = -1;
};

/// A new, empty directory, TMPDIR/STEM-XXXXXX ($TMPDIR, else /tmp),
/// removed with the files in it (not subdirectories) when the object goes.
class TemporaryDirectory {
public:
  /// path() is empty when the directory could not be created.
  explicit TemporaryDirectory(const std::string &stem);
  TemporaryDirectory(const TemporaryDirectory &) = delete;
  TemporaryDirectory &operator=(const TemporaryDirectory &) = delete;
  ~TemporaryDirectory();

  const std::string &path() const { return path_; }
  /// The names of the files in it (not "." and ".."), sorted.
  std::vector<std::string> fileNames() const;

private:
  std::string path_;
};

/// True when \p a and \p b name the same existing file (same device and
/// inode), used to refuse overwriting an input.
bool isSameFile(const std::string &a, const std::string &b);

/// The directory part of \p path ("" for a bare file name).
std::string parentDirectory(const std::string &path);

/// Joins a directory and a relative path; absolute paths are returned as is.
std::string joinPath(const std::string &dir, const std::string &path);

} // namespace seqc

#endif // SEQC_SUPPORT_FILEIO_H
