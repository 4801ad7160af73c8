//===- ZipArchive.h - Reading uncompressed zip archives ---------*- C++ -*-===//
//
// Part of seqc. `torch.save` writes a zip archive (PKWARE's APPNOTE format)
// whose entries are stored uncompressed, through miniz: local headers with
// the data-descriptor flag and zero sizes, 64-byte aligned data, and always a
// ZIP64 end-of-central-directory record. This reader takes the sizes and
// offsets from the central directory and checks every one of them against
// the file and against the entry's local header; compression, encryption and
// split archives are errors, not silently misread data.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_ZIPARCHIVE_H
#define SEQC_FRONTEND_ZIPARCHIVE_H

#include "compiler/support/Diagnostics.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqc {

/// Most entries in one archive. A state_dict saved by torch.save has one
/// entry per storage (about two per layer), far below this.
inline constexpr uint64_t kMaxZipEntries = 1ull << 20;

/// One entry (file) of an archive, its place validated against the file.
struct ZipEntry {
  /// The name as stored (`archive/data/0`).
  std::string name;
  /// Where its local header starts.
  uint64_t localHeaderOffset = 0;
  /// Where its data starts, after the local header, name and extra field.
  uint64_t dataOffset = 0;
  /// The data's size (stored entries: compressed size == size).
  uint64_t size = 0;
  /// The CRC-32 the central directory records.
  uint32_t crc32 = 0;
};

/// The validated directory of an archive of stored (uncompressed) entries.
/// It views the bytes given to parse(), which must outlive it.
class ZipArchive {
public:
  /// Reads the directory of the archive \p bytes. On any problem reports
  /// `diag.fileError(displayName, ...)` naming the entry and what is wrong,
  /// and returns nullopt.
  static std::optional<ZipArchive> parse(std::string_view bytes,
                                         std::string_view displayName,
                                         DiagnosticEngine &diag);

  /// The entries in central-directory order.
  const std::vector<ZipEntry> &getEntries() const { return entries; }
  /// The entry named \p name, or null.
  const ZipEntry *find(std::string_view name) const;
  /// The data of \p entry (within the viewed bytes).
  std::string_view contents(const ZipEntry &entry) const {
    return bytes.substr(entry.dataOffset, entry.size);
  }
  /// Checks \p entry's data against its CRC-32. An entry whose recorded
  /// CRC is 0 has none to check (PyTorch writes 0 when told not to compute
  /// checksums); empty data's CRC is 0 anyway. Reports and returns false on
  /// a mismatch.
  bool verifyChecksum(const ZipEntry &entry, std::string_view displayName,
                      DiagnosticEngine &diag) const;

private:
  std::string_view bytes;
  std::vector<ZipEntry> entries;
  std::map<std::string, size_t, std::less<>> byName;
};

/// The CRC-32 of \p data (ISO-HDLC, as zip and zlib compute it).
uint32_t crc32(std::string_view data);

} // namespace seqc

#endif // SEQC_FRONTEND_ZIPARCHIVE_H
