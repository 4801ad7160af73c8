//===- TorchCheckpoint.cpp - Reading torch.save checkpoints ---------------===//
//
// Part of seqc. Reading a checkpoint:
//   1. validate the zip archive (ZipArchive) and find the top folder, named
//      by the first entry as PyTorch's reader does;
//   2. check `version` (a decimal number) and `byteorder`, when present;
//   3. interpret `data.pkl` (TorchPickle), which refuses every global that
//      is not a tensor, a container or a number;
//   4. check each storage the pickle declares against its `data/<key>`
//      entry: present, exactly numel * element size bytes, CRC-32 intact;
//   5. walk the object from the root dict, depth-first in file order,
//      joining dict keys and list indices with dots; check each tensor's
//      view (offset, shape, strides) against its storage and give float
//      tensors a loader that converts them to float32 on demand.
//
//===----------------------------------------------------------------------===//

#include "frontend/TorchCheckpoint.h"

#include "frontend/Safetensors.h"
#include "frontend/TorchPickle.h"
#include "frontend/ZipArchive.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/Quote.h"

#include <fmt/format.h>

#include <cstring>
#include <unordered_set>

namespace seqc {

//===----------------------------------------------------------------------===//
// Converting storage elements
//===----------------------------------------------------------------------===//

namespace {

/// Reads one storage element as float32.
using ElementReader = float (*)(const unsigned char *);

template <bool BigEndian> float readF32(const unsigned char *p) {
  uint32_t bits = BigEndian ? loadBE32(p) : loadLE32(p);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <bool BigEndian> float readF16(const unsigned char *p) {
  return halfToFloat(BigEndian ? loadBE16(p) : loadLE16(p));
}

template <bool BigEndian> float readBF16(const unsigned char *p) {
  return bfloat16ToFloat(BigEndian ? loadBE16(p) : loadLE16(p));
}

template <bool BigEndian> float readF64(const unsigned char *p) {
  uint64_t bits = BigEndian ? loadBE64(p) : loadLE64(p);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return static_cast<float>(d); // round to nearest
}

template <bool BigEndian> ElementReader readerFor(std::string_view dtype) {
  if (dtype == "F32")
    return readF32<BigEndian>;
  if (dtype == "F16")
    return readF16<BigEndian>;
  if (dtype == "BF16")
    return readBF16<BigEndian>;
  return readF64<BigEndian>;
}

/// A float tensor's view of the file: what its loader needs.
struct TensorSource {
  std::shared_ptr<const std::string> bytes;
  /// Where the storage's first element is in the file.
  uint64_t storageOffset = 0;
  unsigned elementSize = 0;
  ElementReader read = nullptr;
  TorchTensor view;
  /// Product of the view's shape.
  uint64_t numel = 0;

  /// The float32 values in row-major order. The view was checked to lie
  /// within the storage, so every position read is inside it.
  Tensor materialize() const;
};

Tensor TensorSource::materialize() const {
  Tensor result;
  result.shape = view.shape;
  result.data.resize(numel);
  if (numel == 0)
    return result;
  const auto *base =
      reinterpret_cast<const unsigned char *>(bytes->data()) + storageOffset;
  if (view.shape.empty()) {
    result.data[0] = read(base + view.offset * elementSize);
    return result;
  }
  // Copy row by row along the last dimension; `index` counts the rows over
  // the outer dimensions like an odometer and `position` follows it in the
  // storage, so any strides (transposed, sliced, expanded) work.
  size_t last = view.shape.size() - 1;
  uint64_t rowLength = static_cast<uint64_t>(view.shape[last]);
  uint64_t innerStride = static_cast<uint64_t>(view.strides[last]);
  uint64_t rows = numel / rowLength;
  std::vector<int64_t> index(last, 0);
  uint64_t position = view.offset;
  float *out = result.data.data();
  for (uint64_t row = 0; row < rows; ++row) {
    for (uint64_t j = 0; j < rowLength; ++j)
      *out++ = read(base + (position + j * innerStride) * elementSize);
    for (size_t d = last; d-- > 0;) {
      uint64_t stride = static_cast<uint64_t>(view.strides[d]);
      if (++index[d] < view.shape[d]) {
        position += stride;
        break;
      }
      position -= stride * static_cast<uint64_t>(view.shape[d] - 1);
      index[d] = 0;
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// The reader
//===----------------------------------------------------------------------===//

class CheckpointReader {
public:
  CheckpointReader(std::shared_ptr<const std::string> bytes,
                   std::string_view displayName, DiagnosticEngine &diag,
                   bool verifyChecksums)
      : bytes(std::move(bytes)), displayName(displayName), diag(diag),
        verifyChecksums(verifyChecksums) {}

  std::optional<StateDict> read();

private:
  bool fail(std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  }

  bool findFolder();
  const ZipEntry *findRecord(std::string_view name);
  bool readRecord(const ZipEntry &entry, std::string_view &contents);
  bool checkVersionAndByteOrder();
  bool checkStorages();
  bool flatten(const PickleValue &value, std::string &key, unsigned depth);
  bool addTensor(const std::string &key, const TorchTensor &view);
  bool checkView(const std::string &key, const TorchTensor &view,
                 uint64_t &numel);

  std::shared_ptr<const std::string> bytes;
  std::string_view displayName;
  DiagnosticEngine &diag;
  bool verifyChecksums;

  std::optional<ZipArchive> archive;
  /// The top folder and a slash (`archive/`).
  std::string folder;
  bool bigEndian = false;
  std::unique_ptr<UnpickledData> data;
  /// Per storage: where its data starts in the file.
  std::vector<uint64_t> storageOffsets;

  StateDict result;
  std::unordered_set<std::string> names;
  uint64_t visits = 0;
  uint64_t keyBytes = 0;
};

bool CheckpointReader::findFolder() {
  const std::vector<ZipEntry> &entries = archive->getEntries();
  if (entries.empty())
    return fail("the zip archive is empty; not a torch.save checkpoint");
  // Like PyTorch's reader, the first entry names the folder of the rest.
  const std::string &first = entries.front().name;
  size_t slash = first.find('/');
  if (slash == std::string::npos)
    return fail(fmt::format("the archive's first entry {} is not in a folder; "
                            "not a torch.save checkpoint",
                            quoteName(first)));
  folder = first.substr(0, slash + 1);
  if (findRecord("constants.pkl"))
    return fail("this is a TorchScript archive (torch.jit.save); save the "
                "model's weights with torch.save(model.state_dict(), path)");
  if (findRecord("data.pkl"))
    return true;
  return fail(fmt::format("the archive has no {}; not a torch.save "
                          "checkpoint",
                          quoteName(folder + "data.pkl")));
}

const ZipEntry *CheckpointReader::findRecord(std::string_view name) {
  return archive->find(folder + std::string(name));
}

bool CheckpointReader::readRecord(const ZipEntry &entry,
                                  std::string_view &contents) {
  if (verifyChecksums && !archive->verifyChecksum(entry, displayName, diag))
    return false;
  contents = archive->contents(entry);
  return true;
}

bool CheckpointReader::checkVersionAndByteOrder() {
  std::string_view text;
  if (const ZipEntry *version = findRecord("version")) {
    if (!readRecord(*version, text))
      return false;
    if (text.ends_with('\n'))
      text.remove_suffix(1);
    bool digits = !text.empty() && text.size() <= 20 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      return fail(fmt::format("{} holds {}, not a version number",
                              quoteName(version->name), quoteName(text)));
  }
  if (const ZipEntry *order = findRecord("byteorder")) {
    if (!readRecord(*order, text))
      return false;
    if (text != "little" && text != "big")
      return fail(fmt::format("{} holds {}, not 'little' or 'big'",
                              quoteName(order->name), quoteName(text)));
    bigEndian = text == "big";
  }
  return true;
}

bool CheckpointReader::checkStorages() {
  for (const TorchStorage &storage : data->storages) {
    std::string name = folder + "data/" + storage.key;
    const ZipEntry *entry = archive->find(name);
    if (!entry)
      return fail(fmt::format("storage {} has no entry {} in the archive",
                              quoteName(storage.key), quoteName(name)));
    // The pickle checked that numel * size does not overflow.
    uint64_t expected = storage.numel * storage.type->size;
    if (entry->size != expected)
      return fail(fmt::format("storage {} declares {} {} elements ({} bytes) "
                              "but {} holds {} bytes",
                              quoteName(storage.key), storage.numel,
                              storage.type->dtype, expected, quoteName(name),
                              entry->size));
    std::string_view contents;
    if (!readRecord(*entry, contents))
      return false;
    storageOffsets.push_back(entry->dataOffset);
  }
  return true;
}

bool CheckpointReader::checkView(const std::string &key,
                                 const TorchTensor &view, uint64_t &numel) {
  const TorchStorage &storage = data->storages[view.storage];
  std::string shape = Tensor::shapeString(view.shape);
  numel = 1;
  bool overflow = false;
  for (int64_t d : view.shape)
    overflow |= __builtin_mul_overflow(numel, uint64_t(d), &numel);
  if (overflow || numel > limits::kMaxParamElements)
    return fail(fmt::format("tensor {} of shape {} has more elements than "
                            "the limit of {}",
                            quoteName(key), shape, limits::kMaxParamElements));
  if (numel == 0) {
    if (view.offset > storage.numel)
      return fail(fmt::format("tensor {} starts at element {} of storage {}, "
                              "which holds {}",
                              quoteName(key), view.offset,
                              quoteName(storage.key), storage.numel));
    return true;
  }
  // The last element the view reads: offset + sum((size - 1) * stride).
  uint64_t lastElement = view.offset;
  for (size_t d = 0; d < view.shape.size(); ++d) {
    uint64_t step;
    overflow |= __builtin_mul_overflow(uint64_t(view.shape[d] - 1),
                                       uint64_t(view.strides[d]), &step);
    overflow |= __builtin_add_overflow(lastElement, step, &lastElement);
  }
  if (overflow || lastElement >= storage.numel)
    return fail(fmt::format(
        "tensor {} ({}{}, strides {}, offset {}) needs element {} of storage "
        "{}, which holds {} elements",
        quoteName(key), storage.type->dtype, shape,
        Tensor::shapeString(view.strides), view.offset,
        overflow ? "2^64 or beyond" : std::to_string(lastElement),
        quoteName(storage.key), storage.numel));
  return true;
}

bool CheckpointReader::addTensor(const std::string &key,
                                 const TorchTensor &view) {
  if (key.empty())
    return fail("the checkpoint holds a single tensor, not a dict of tensors "
                "(save model.state_dict())");
  if ((keyBytes += key.size()) > kMaxCheckpointKeyBytes)
    return fail(fmt::format("the tensors' keys take more than {} bytes",
                            kMaxCheckpointKeyBytes));
  if (!names.insert(key).second)
    return fail(fmt::format("two tensors have the key {} (a key with dots "
                            "and a nested dict give the same name)",
                            quoteName(key)));
  uint64_t numel = 0;
  if (!checkView(key, view, numel))
    return false;
  const TorchStorage &storage = data->storages[view.storage];
  StateDictTensor tensor;
  tensor.name = key;
  tensor.dtype = storage.type->dtype;
  tensor.shape = view.shape;
  tensor.isFloat = storage.type->isFloat;
  if (tensor.isFloat) {
    TensorSource source;
    source.bytes = bytes;
    source.storageOffset = storageOffsets[view.storage];
    source.elementSize = storage.type->size;
    source.read = bigEndian ? readerFor<true>(tensor.dtype)
                            : readerFor<false>(tensor.dtype);
    source.view = view;
    source.numel = numel;
    tensor.load = [source = std::move(source)] { return source.materialize(); };
  }
  result.tensors.push_back(std::move(tensor));
  return true;
}

bool CheckpointReader::flatten(const PickleValue &value, std::string &key,
                               unsigned depth) {
  using Kind = PickleValue::Kind;
  if (value.kind == Kind::Tensor)
    return addTensor(key, data->tensors[static_cast<size_t>(value.integer)]);
  bool isDict = value.kind == Kind::Dict;
  if (!isDict && value.kind != Kind::List && value.kind != Kind::Tuple)
    return true; // numbers, strings, ...: not weights
  if (depth >= kMaxCheckpointNesting)
    return fail(fmt::format("dicts and lists are nested more than {} deep "
                            "(at {})",
                            kMaxCheckpointNesting, quoteName(key)));
  size_t step = isDict ? 2 : 1;
  for (size_t i = 0; i < value.items.size(); i += step) {
    // Containers may be shared (or even contain themselves), so the walk,
    // not the pickle, bounds the work.
    if (++visits > kMaxPickleElements)
      return fail(fmt::format("walking the checkpoint visits more than {} "
                              "values (shared containers?)",
                              kMaxPickleElements));
    std::string component;
    if (!isDict) {
      component = std::to_string(i);
    } else if (value.items[i]->kind == Kind::String) {
      component = value.items[i]->text;
    } else if (value.items[i]->kind == Kind::Int) {
      component = std::to_string(value.items[i]->integer);
    } else {
      continue; // a key no state_dict has (a tuple, None, ...)
    }
    size_t length = key.size();
    if (!key.empty())
      key += '.';
    key += component;
    bool ok = flatten(*value.items[i + step - 1], key, depth + 1);
    key.resize(length);
    if (!ok)
      return false;
  }
  return true;
}

std::optional<StateDict> CheckpointReader::read() {
  archive = ZipArchive::parse(*bytes, displayName, diag);
  if (!archive || !findFolder() || !checkVersionAndByteOrder())
    return std::nullopt;
  const ZipEntry &pickleEntry = *findRecord("data.pkl");
  if (pickleEntry.size > kMaxTorchPickleBytes) {
    fail(fmt::format("{} is {} bytes, more than the limit of {}",
                     quoteName(pickleEntry.name), pickleEntry.size,
                     kMaxTorchPickleBytes));
    return std::nullopt;
  }
  std::string_view pickle;
  if (!readRecord(pickleEntry, pickle))
    return std::nullopt;
  data = unpickleTorchData(pickle, displayName, diag);
  if (!data || !checkStorages())
    return std::nullopt;
  if (data->root->kind != PickleValue::Kind::Dict) {
    fail(fmt::format("the checkpoint holds {}, not a dict of tensors (save "
                     "model.state_dict())",
                     describePickleKind(data->root->kind)));
    return std::nullopt;
  }
  std::string key;
  if (!flatten(*data->root, key, 0))
    return std::nullopt;
  return std::move(result);
}

} // namespace

bool looksLikeZip(std::string_view bytes) {
  return bytes.starts_with(std::string_view("PK\x03\x04", 4)) ||
         bytes.starts_with(std::string_view("PK\x05\x06", 4));
}

bool looksLikeLegacyTorchCheckpoint(std::string_view bytes) {
  // The magic number, pickled first: LONG1 with ten bytes (protocol 2 and
  // up, after PROTO), or the text LONG of protocol 1.
  static constexpr std::string_view kLong1Magic(
      "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12);
  static constexpr std::string_view kTextMagic = "L119547037146038801333356";
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80)
    bytes.remove_prefix(2);
  return bytes.starts_with(kLong1Magic) || bytes.starts_with(kTextMagic);
}

void reportLegacyTorchCheckpoint(std::string_view path,
                                 DiagnosticEngine &diag) {
  diag.fileError(
      path, fmt::format("the file is in PyTorch's legacy format (from PyTorch "
                        "before 1.6, or torch.save with "
                        "_use_new_zipfile_serialization=False), which seqc "
                        "does not read; re-save it with a current PyTorch: "
                        "torch.save(torch.load(\"{0}\"), \"{0}\")",
                        path));
}

std::optional<StateDict>
parseTorchCheckpoint(std::shared_ptr<const std::string> bytes,
                     std::string_view displayName, DiagnosticEngine &diag,
                     bool verifyChecksums) {
  CheckpointReader reader(std::move(bytes), displayName, diag, verifyChecksums);
  return reader.read();
}

} // namespace seqc
