//===- ZipArchive.cpp - Reading uncompressed zip archives -----------------===//
//
// Part of seqc. Reading an archive, in the order of the steps below:
//   1. find the end-of-central-directory record (EOCD), which must end the
//      file exactly (a comment of its declared length may precede the end);
//   2. when a ZIP64 locator precedes it, read the ZIP64 EOCD record it points
//      to, which must end where the locator starts and agree with every EOCD
//      field that is not saturated;
//   3. the central directory must end exactly where the end records start;
//      walk it entry by entry, each within it, and the last one ending it;
//   4. per entry: no encryption, stored (method 0), equal compressed and
//      uncompressed sizes, ZIP64 extra fields only where a field saturates,
//      a unique name;
//   5. per entry, its local header: within the file, before the central
//      directory, the same name and method, sizes and CRC equal to the
//      central ones (zero allowed under the data-descriptor flag), and its
//      data ending before the central directory;
//   6. sorted by offset, no entry's data runs into the next local header.
//
//===----------------------------------------------------------------------===//

#include "frontend/ZipArchive.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/Quote.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace seqc {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;

constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kMaxCommentSize = 0xffff;

constexpr uint16_t kZip64ExtraId = 0x0001;

/// General-purpose flag bits (APPNOTE 4.4.4).
enum ZipFlag : uint16_t {
  kFlagEncrypted = 1 << 0,
  kFlagDataDescriptor = 1 << 3,
  kFlagStrongEncryption = 1 << 6,
  kFlagMaskedHeaders = 1 << 13,
};

const char *methodName(uint16_t method) {
  switch (method) {
  case 8:
    return "deflate";
  case 9:
    return "deflate64";
  case 12:
    return "bzip2";
  case 14:
    return "lzma";
  case 93:
    return "zstd";
  case 95:
    return "xz";
  default:
    return "an unknown method";
  }
}

/// The fields of a central-directory header that ZIP64 can widen.
struct WideFields {
  uint64_t size = 0;
  uint64_t compressedSize = 0;
  uint64_t localHeaderOffset = 0;
  uint32_t diskStart = 0;
};

/// Reads the archive's directory; every method reports and returns false on
/// the first problem.
class ZipReader {
public:
  ZipReader(std::string_view bytes, std::string_view displayName,
            DiagnosticEngine &diag)
      : bytes(bytes),
        data(reinterpret_cast<const unsigned char *>(bytes.data())),
        displayName(displayName), diag(diag) {}

  bool read(std::vector<ZipEntry> &entries);

private:
  bool fail(std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  }
  bool failEntry(std::string_view name, std::string_view message) {
    return fail(fmt::format("zip entry {}: {}", quoteName(name), message));
  }

  bool findEnd();
  bool readZip64End(uint64_t locatorOffset);
  bool readCentralEntry(uint64_t &pos, uint64_t end, ZipEntry &entry);
  bool readZip64Extra(std::string_view name, const unsigned char *extra,
                      uint64_t extraLength, WideFields &fields);
  bool checkLocalHeader(ZipEntry &entry, uint16_t method);
  bool checkNoOverlap(const std::vector<ZipEntry> &entries);

  std::string_view bytes;
  const unsigned char *data;
  std::string_view displayName;
  DiagnosticEngine &diag;

  uint64_t endOffset = 0;       ///< where the EOCD record starts
  uint64_t directoryEnd = 0;    ///< where the end records start
  uint64_t directoryOffset = 0; ///< where the central directory starts
  uint64_t numEntries = 0;
};

bool ZipReader::findEnd() {
  if (bytes.size() < kEndSize)
    return fail(fmt::format("file is {} bytes, too small for a zip archive "
                            "(truncated?)",
                            bytes.size()));
  // The EOCD record is the last thing in the file; only its comment (at
  // most 64 KiB) may follow it, so search backwards from the end.
  uint64_t last = bytes.size() - kEndSize;
  uint64_t first = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
  for (uint64_t pos = last + 1; pos-- > first;) {
    if (loadLE32(data + pos) != kEndSignature)
      continue;
    if (pos + kEndSize + loadLE16(data + pos + 20) != bytes.size())
      continue;
    endOffset = pos;
    return true;
  }
  return fail("no zip end-of-central-directory record at the end of the file "
              "(truncated?)");
}

bool ZipReader::readZip64End(uint64_t locatorOffset) {
  const unsigned char *locator = data + locatorOffset;
  uint32_t disk = loadLE32(locator + 4);
  uint64_t recordOffset = loadLE64(locator + 8);
  uint32_t numDisks = loadLE32(locator + 16);
  if (disk != 0 || numDisks > 1)
    return fail("split (multi-disk) zip archives are not supported");
  if (recordOffset > locatorOffset ||
      locatorOffset - recordOffset < kZip64EndSize)
    return fail(fmt::format("the ZIP64 end-of-central-directory record at "
                            "offset {} does not fit before its locator at {}",
                            recordOffset, locatorOffset));
  const unsigned char *record = data + recordOffset;
  if (loadLE32(record) != kZip64EndSignature)
    return fail(fmt::format("no ZIP64 end-of-central-directory record at "
                            "offset {}, where its locator points",
                            recordOffset));
  uint64_t recordSize = loadLE64(record + 4);
  if (recordSize != locatorOffset - recordOffset - 12)
    return fail(fmt::format("the ZIP64 end-of-central-directory record at "
                            "offset {} declares {} bytes but {} lie before "
                            "its locator",
                            recordOffset, recordSize,
                            locatorOffset - recordOffset - 12));
  if (loadLE32(record + 16) != 0 || loadLE32(record + 20) != 0 ||
      loadLE64(record + 24) != loadLE64(record + 32))
    return fail("split (multi-disk) zip archives are not supported");
  if (loadLE16(record + 14) >= 62)
    return fail("the ZIP64 record asks for a compressed or encrypted central "
                "directory (version 6.2), which is not supported");

  // The EOCD's own fields hold the values unless saturated.
  const unsigned char *end = data + endOffset;
  uint64_t zipEntries = loadLE64(record + 32);
  uint64_t zipSize = loadLE64(record + 40);
  uint64_t zipOffset = loadLE64(record + 48);
  uint16_t entries16 = loadLE16(end + 10);
  uint32_t size32 = loadLE32(end + 12);
  uint32_t offset32 = loadLE32(end + 16);
  if ((entries16 != 0xffff && entries16 != zipEntries) ||
      (size32 != 0xffffffff && size32 != zipSize) ||
      (offset32 != 0xffffffff && offset32 != zipOffset))
    return fail(fmt::format("the ZIP64 record (entries {}, directory of {} "
                            "bytes at {}) contradicts the end record "
                            "(entries {}, {} bytes at {})",
                            zipEntries, zipSize, zipOffset, entries16, size32,
                            offset32));
  numEntries = zipEntries;
  directoryOffset = zipOffset;
  directoryEnd = recordOffset;
  if (zipOffset > directoryEnd || zipSize != directoryEnd - zipOffset)
    return fail(fmt::format("the central directory ({} bytes at offset {}) "
                            "does not end where the end records start ({})",
                            zipSize, zipOffset, directoryEnd));
  return true;
}

bool ZipReader::readZip64Extra(std::string_view name,
                               const unsigned char *extra, uint64_t extraLength,
                               WideFields &fields) {
  bool needSize = fields.size == 0xffffffff;
  bool needCompressed = fields.compressedSize == 0xffffffff;
  bool needOffset = fields.localHeaderOffset == 0xffffffff;
  bool needDisk = fields.diskStart == 0xffff;
  bool found = false;
  uint64_t pos = 0;
  while (pos < extraLength) {
    if (extraLength - pos < 4)
      return failEntry(name, "its extra field is truncated");
    uint16_t id = loadLE16(extra + pos);
    uint16_t length = loadLE16(extra + pos + 2);
    pos += 4;
    if (length > extraLength - pos)
      return failEntry(name, fmt::format("its extra field 0x{:04x} runs past "
                                         "the end of the extra data",
                                         id));
    if (id == kZip64ExtraId) {
      if (found)
        return failEntry(name, "it has two ZIP64 extra fields");
      found = true;
      // Only the saturated fields are present, in this order.
      const unsigned char *p = extra + pos;
      uint64_t needed =
          8 * (needSize + needCompressed + needOffset) + 4 * needDisk;
      if (length < needed)
        return failEntry(name, fmt::format("its ZIP64 extra field holds {} "
                                           "bytes but the saturated fields "
                                           "need {}",
                                           length, needed));
      auto take64 = [&](uint64_t &field) {
        field = loadLE64(p);
        p += 8;
      };
      if (needSize)
        take64(fields.size);
      if (needCompressed)
        take64(fields.compressedSize);
      if (needOffset)
        take64(fields.localHeaderOffset);
      if (needDisk)
        fields.diskStart = loadLE32(p);
    }
    pos += length;
  }
  if ((needSize || needCompressed || needOffset || needDisk) && !found)
    return failEntry(name, "its sizes or offset are saturated (0xffffffff) "
                           "but it has no ZIP64 extra field");
  return true;
}

bool ZipReader::readCentralEntry(uint64_t &pos, uint64_t end, ZipEntry &entry) {
  if (end - pos < kCentralHeaderSize)
    return fail(fmt::format("central directory entry at offset {} is "
                            "truncated",
                            pos));
  const unsigned char *header = data + pos;
  if (loadLE32(header) != kCentralHeaderSignature)
    return fail(fmt::format("no central directory entry at offset {}, "
                            "inside the central directory",
                            pos));
  uint16_t flags = loadLE16(header + 8);
  uint16_t method = loadLE16(header + 10);
  uint16_t nameLength = loadLE16(header + 28);
  uint16_t extraLength = loadLE16(header + 30);
  uint16_t commentLength = loadLE16(header + 32);
  uint64_t variable = uint64_t(nameLength) + extraLength + commentLength;
  if (end - pos - kCentralHeaderSize < variable)
    return fail(fmt::format("central directory entry at offset {} runs past "
                            "the end of the directory",
                            pos));
  entry.name.assign(bytes.substr(pos + kCentralHeaderSize, nameLength));
  const std::string &name = entry.name;
  if (flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders))
    return failEntry(name, "it is encrypted, which is not supported");
  if (method != 0)
    return failEntry(
        name,
        fmt::format("it is compressed with {} (method {}); seqc reads the "
                    "uncompressed (stored) entries torch.save writes, so "
                    "save the file with torch.save rather than re-packing it",
                    methodName(method), method));

  WideFields fields;
  fields.compressedSize = loadLE32(header + 20);
  fields.size = loadLE32(header + 24);
  fields.diskStart = loadLE16(header + 34);
  fields.localHeaderOffset = loadLE32(header + 42);
  if (!readZip64Extra(name, header + kCentralHeaderSize + nameLength,
                      extraLength, fields))
    return false;
  if (fields.diskStart != 0)
    return fail("split (multi-disk) zip archives are not supported");
  if (fields.compressedSize != fields.size)
    return failEntry(name, fmt::format("it is stored uncompressed but its "
                                       "compressed size {} differs from its "
                                       "size {}",
                                       fields.compressedSize, fields.size));
  entry.crc32 = loadLE32(header + 16);
  entry.size = fields.size;
  entry.localHeaderOffset = fields.localHeaderOffset;
  pos += kCentralHeaderSize + variable;
  return checkLocalHeader(entry, method);
}

bool ZipReader::checkLocalHeader(ZipEntry &entry, uint16_t method) {
  const std::string &name = entry.name;
  uint64_t offset = entry.localHeaderOffset;
  if (offset > directoryOffset || directoryOffset - offset < kLocalHeaderSize)
    return failEntry(name, fmt::format("its local header offset {} is not "
                                       "before the central directory (at {})",
                                       offset, directoryOffset));
  const unsigned char *header = data + offset;
  if (loadLE32(header) != kLocalHeaderSignature)
    return failEntry(name, fmt::format("no local header at offset {}", offset));
  uint16_t flags = loadLE16(header + 6);
  uint16_t nameLength = loadLE16(header + 26);
  uint16_t extraLength = loadLE16(header + 28);
  uint64_t headerEnd = offset + kLocalHeaderSize + nameLength + extraLength;
  if (headerEnd > directoryOffset)
    return failEntry(name, "its local header runs into the central directory");
  if (bytes.substr(offset + kLocalHeaderSize, nameLength) != name)
    return failEntry(
        name, fmt::format("its local header at offset {} names {}", offset,
                          quoteName(bytes.substr(offset + kLocalHeaderSize,
                                                 nameLength))));
  if (flags & (kFlagEncrypted | kFlagStrongEncryption))
    return failEntry(name, "it is encrypted, which is not supported");
  if (loadLE16(header + 8) != method)
    return failEntry(name, fmt::format("its local header gives compression "
                                       "method {}, the central directory {}",
                                       loadLE16(header + 8), method));
  // Under the data-descriptor flag the local CRC and sizes may be zero (they
  // follow the data); saturated sizes live in a ZIP64 extra field.
  bool deferred = flags & kFlagDataDescriptor;
  auto agrees = [&](uint32_t local, uint64_t central) {
    return local == central || local == 0xffffffff || (deferred && local == 0);
  };
  uint32_t crc = loadLE32(header + 14);
  if (crc != entry.crc32 && !(deferred && crc == 0))
    return failEntry(name, fmt::format("its local header's CRC 0x{:08x} "
                                       "differs from the central directory's "
                                       "0x{:08x}",
                                       crc, entry.crc32));
  if (!agrees(loadLE32(header + 18), entry.size) ||
      !agrees(loadLE32(header + 22), entry.size))
    return failEntry(name, fmt::format("its local header's sizes ({}, {}) "
                                       "differ from the central directory's "
                                       "({})",
                                       loadLE32(header + 18),
                                       loadLE32(header + 22), entry.size));
  entry.dataOffset = headerEnd;
  if (entry.size > directoryOffset - headerEnd)
    return failEntry(name, fmt::format("its {} bytes of data at offset {} run "
                                       "into the central directory (at {})",
                                       entry.size, headerEnd, directoryOffset));
  return true;
}

bool ZipReader::checkNoOverlap(const std::vector<ZipEntry> &entries) {
  std::vector<const ZipEntry *> byOffset;
  byOffset.reserve(entries.size());
  for (const ZipEntry &entry : entries)
    byOffset.push_back(&entry);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const ZipEntry *a, const ZipEntry *b) {
              return a->localHeaderOffset < b->localHeaderOffset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const ZipEntry &previous = *byOffset[i - 1];
    const ZipEntry &next = *byOffset[i];
    if (previous.dataOffset + previous.size > next.localHeaderOffset)
      return failEntry(
          next.name, fmt::format("it overlaps entry {}, whose data at "
                                 "offsets [{}, {}) runs past this entry's "
                                 "local header at {}",
                                 quoteName(previous.name), previous.dataOffset,
                                 previous.dataOffset + previous.size,
                                 next.localHeaderOffset));
  }
  return true;
}

bool ZipReader::read(std::vector<ZipEntry> &entries) {
  if (!findEnd())
    return false;
  const unsigned char *end = data + endOffset;
  for (uint64_t field : {4, 6})
    if (loadLE16(end + field) != 0 && loadLE16(end + field) != 0xffff)
      return fail("split (multi-disk) zip archives are not supported");
  if (loadLE16(end + 8) != loadLE16(end + 10))
    return fail("split (multi-disk) zip archives are not supported");

  if (endOffset >= kZip64LocatorSize &&
      loadLE32(data + endOffset - kZip64LocatorSize) ==
          kZip64LocatorSignature) {
    if (!readZip64End(endOffset - kZip64LocatorSize))
      return false;
  } else {
    numEntries = loadLE16(end + 10);
    uint64_t size = loadLE32(end + 12);
    directoryOffset = loadLE32(end + 16);
    directoryEnd = endOffset;
    if (numEntries == 0xffff || size == 0xffffffff ||
        directoryOffset == 0xffffffff)
      return fail("the end record's fields are saturated but there is no "
                  "ZIP64 end-of-central-directory record");
    if (directoryOffset > directoryEnd ||
        size != directoryEnd - directoryOffset)
      return fail(fmt::format("the central directory ({} bytes at offset {}) "
                              "does not end where the end record starts ({})",
                              size, directoryOffset, directoryEnd));
  }
  if (numEntries > kMaxZipEntries)
    return fail(fmt::format("the archive has {} entries, more than the limit "
                            "of {}",
                            numEntries, kMaxZipEntries));
  // Each entry takes at least kCentralHeaderSize bytes of the directory.
  if (numEntries > (directoryEnd - directoryOffset) / kCentralHeaderSize)
    return fail(fmt::format("the central directory of {} bytes cannot hold "
                            "the {} entries the end record declares",
                            directoryEnd - directoryOffset, numEntries));

  entries.resize(numEntries);
  std::map<std::string_view, size_t> seen;
  uint64_t pos = directoryOffset;
  for (uint64_t i = 0; i < numEntries; ++i) {
    if (!readCentralEntry(pos, directoryEnd, entries[i]))
      return false;
  }
  if (pos != directoryEnd)
    return fail(fmt::format("the central directory holds {} bytes after its "
                            "{} entries",
                            directoryEnd - pos, numEntries));
  for (const ZipEntry &entry : entries)
    if (!seen.emplace(entry.name, 0).second)
      return failEntry(entry.name, "the archive holds two entries of that "
                                   "name");
  return checkNoOverlap(entries);
}

/// CRC-32 tables for slicing by 8: kTables[0] is the classic byte table,
/// kTables[k][b] the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> makeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (int k = 1; k < 8; ++k)
      tables[k][b] =
          (tables[k - 1][b] >> 8) ^ tables[0][tables[k - 1][b] & 0xff];
  return tables;
}

constexpr std::array<std::array<uint32_t, 256>, 8> kCrcTables = makeCrcTables();

} // namespace

uint32_t crc32(std::string_view text) {
  const auto *p = reinterpret_cast<const unsigned char *>(text.data());
  size_t n = text.size();
  uint32_t crc = 0xffffffffu;
  const auto &t = kCrcTables;
  for (; n >= 8; n -= 8, p += 8) {
    uint32_t low = crc ^ loadLE32(p);
    uint32_t high = loadLE32(p + 4);
    crc = t[7][low & 0xff] ^ t[6][(low >> 8) & 0xff] ^
          t[5][(low >> 16) & 0xff] ^ t[4][low >> 24] ^ t[3][high & 0xff] ^
          t[2][(high >> 8) & 0xff] ^ t[1][(high >> 16) & 0xff] ^
          t[0][high >> 24];
  }
  for (; n > 0; --n, ++p)
    crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
  return ~crc;
}

std::optional<ZipArchive> ZipArchive::parse(std::string_view bytes,
                                            std::string_view displayName,
                                            DiagnosticEngine &diag) {
  ZipArchive archive;
  archive.bytes = bytes;
  ZipReader reader(bytes, displayName, diag);
  if (!reader.read(archive.entries))
    return std::nullopt;
  for (size_t i = 0; i < archive.entries.size(); ++i)
    archive.byName.emplace(archive.entries[i].name, i);
  return archive;
}

const ZipEntry *ZipArchive::find(std::string_view name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &entries[it->second];
}

bool ZipArchive::verifyChecksum(const ZipEntry &entry,
                                std::string_view displayName,
                                DiagnosticEngine &diag) const {
  if (entry.crc32 == 0)
    return true;
  uint32_t actual = crc32(contents(entry));
  if (actual == entry.crc32)
    return true;
  diag.fileError(displayName,
                 fmt::format("zip entry {}: its data's CRC-32 is 0x{:08x} but "
                             "the archive records 0x{:08x} (file corrupt?)",
                             quoteName(entry.name), actual, entry.crc32));
  return false;
}

} // namespace seqc
