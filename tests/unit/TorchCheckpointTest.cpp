//===- TorchCheckpointTest.cpp - torch.save checkpoints and state dicts ---===//
//
// The checkpoints under tests/data/torch/ were written by PyTorch
// (make_checkpoints.py); each NAME.expected.safetensors holds what seqc must
// read from NAME.pt. Hand-made archives and pickles test each bound and each
// refusal of the zip reader and the unpickler.
//
//===----------------------------------------------------------------------===//

#include "frontend/TorchCheckpoint.h"
#include "ByteStrings.h"
#include "frontend/StateDict.h"
#include "frontend/TorchPickle.h"
#include "frontend/WeightBinding.h"
#include "frontend/ZipArchive.h"

#include "compiler/support/FileIO.h"
#include "compiler/support/SourceManager.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <set>

using namespace seqc;
using namespace seqc::test;
using namespace std::string_literals;

namespace {

std::filesystem::path torchDir() {
  return std::filesystem::path(SEQC_SOURCE_DIR) / "tests" / "data" / "torch";
}

/// A stored zip archive as Python's zipfile writes it (local sizes filled
/// in, no data descriptors, no ZIP64 records).
std::string
makeZip(const std::vector<std::pair<std::string, std::string>> &entries) {
  std::string body, central;
  for (const auto &[name, data] : entries) {
    uint32_t crc = crc32(data);
    std::string sizes =
        le32(crc) + le32(uint32_t(data.size())) + le32(uint32_t(data.size()));
    std::string common = le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) +
                         sizes + le16(uint16_t(name.size())) + le16(0);
    central += le32(0x02014b50) + le16(20) + common + le16(0) + le16(0) +
               le16(0) + le32(0) + le32(uint32_t(body.size())) + name;
    body += le32(0x04034b50) + common + name + data;
  }
  std::string end =
      le32(0x06054b50) + le16(0) + le16(0) + le16(uint16_t(entries.size())) +
      le16(uint16_t(entries.size())) + le32(uint32_t(central.size())) +
      le32(uint32_t(body.size())) + le16(0);
  return body + central + end;
}

struct Result {
  std::optional<StateDict> dict;
  std::string diagnostics;
};

Result parseBytes(std::string bytes, std::string_view name = "w.pt") {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Result result;
  diag.captureTo(&result.diagnostics);
  result.dict = parseStateDict(
      std::make_shared<const std::string>(std::move(bytes)), name, diag);
  return result;
}

Result readPath(const std::filesystem::path &path) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Result result;
  diag.captureTo(&result.diagnostics);
  result.dict = readStateDict(path.string(), diag);
  return result;
}

/// A checkpoint whose data.pkl is \p pickle, with \p storages.
std::string checkpoint(
    const std::string &pickle,
    const std::vector<std::pair<std::string, std::string>> &storages = {}) {
  std::vector<std::pair<std::string, std::string>> entries = {
      {"archive/data.pkl", pickle}};
  for (const auto &[key, data] : storages)
    entries.emplace_back("archive/data/" + key, data);
  entries.emplace_back("archive/version", "3\n");
  return makeZip(entries);
}

/// Asserts that the checkpoint with \p pickle is refused with a message
/// containing \p message.
void expectRefused(
    const std::string &pickle, std::string_view message,
    const std::vector<std::pair<std::string, std::string>> &storages = {}) {
  Result result = parseBytes(checkpoint(pickle, storages));
  INFO(result.diagnostics);
  CHECK_FALSE(result.dict);
  CHECK(result.diagnostics.find(message) != std::string::npos);
}

// Pickle opcodes, protocol 2.
std::string str(std::string_view s) {
  return "X" + le32(uint32_t(s.size())) + std::string(s);
}
std::string global(std::string_view module, std::string_view name) {
  return fmt::format("c{}\n{}\n", module, name);
}
std::string int1(uint8_t v) { return std::string("K") + char(v); }
std::string ints(std::initializer_list<uint8_t> values) {
  std::string out = "(";
  for (uint8_t v : values)
    out += int1(v);
  return out + "t";
}
const std::string kProto2 = "\x80\x02";

/// _rebuild_tensor_v2 of FloatStorage \p key (numel elements).
std::string tensorOps(uint8_t numel, std::initializer_list<uint8_t> size,
                      std::initializer_list<uint8_t> stride, uint8_t offset = 0,
                      std::string_view key = "0",
                      std::string_view storageClass = "FloatStorage") {
  std::string pid = "(" + str("storage") + global("torch", storageClass) +
                    str(key) + str("cpu") + int1(numel) + "tQ";
  return global("torch._utils", "_rebuild_tensor_v2") + "(" + pid +
         int1(offset) + ints(size) + ints(stride) + "\x89" +
         global("collections", "OrderedDict") + ")Rt" + "R";
}

} // namespace

//===----------------------------------------------------------------------===//
// What PyTorch wrote
//===----------------------------------------------------------------------===//

TEST_CASE("every checkpoint torch.save wrote reads as PyTorch flattens it") {
  unsigned compared = 0;
  for (const auto &file : std::filesystem::directory_iterator(torchDir())) {
    std::string fileName = file.path().filename().string();
    std::string suffix = ".expected.safetensors";
    if (!fileName.ends_with(suffix))
      continue;
    std::string stem = fileName.substr(0, fileName.size() - suffix.size());
    CAPTURE(stem);
    Result pt = readPath(torchDir() / (stem + ".pt"));
    Result expected = readPath(file.path());
    INFO(pt.diagnostics);
    REQUIRE(pt.dict);
    REQUIRE(expected.dict);
    REQUIRE(pt.dict->tensors.size() == expected.dict->tensors.size());
    for (size_t i = 0; i < pt.dict->tensors.size(); ++i) {
      const StateDictTensor &got = pt.dict->tensors[i];
      const StateDictTensor &want = expected.dict->tensors[i];
      CAPTURE(want.name);
      CHECK(got.name == want.name);
      CHECK(got.shape == want.shape);
      CHECK(got.isFloat == want.isFloat);
      if (!want.isFloat) {
        CHECK(got.dtype == want.dtype);
        continue;
      }
      Tensor gotValue = got.load(), wantValue = want.load();
      CHECK(gotValue.shape == want.shape);
      REQUIRE(gotValue.data.size() == wantValue.data.size());
      // Empty tensors hold no data (and data() may be null, which memcmp
      // must not be given).
      if (!gotValue.data.empty())
        CHECK(std::memcmp(gotValue.data.data(), wantValue.data.data(),
                          4 * gotValue.data.size()) == 0);
    }
    ++compared;
  }
  CHECK(compared >= 16);
}

TEST_CASE("checkpoint contents: nesting, dtypes and views") {
  Result training = readPath(torchDir() / "training_checkpoint.pt");
  REQUIRE(training.dict);
  CHECK(training.dict->find("model.0.weight"));
  CHECK(training.dict->find("optimizer.state.0.exp_avg"));
  CHECK(training.dict->find("optimizer.state.3.exp_avg_sq"));
  CHECK_FALSE(training.dict->find("epoch"));
  CHECK_FALSE(training.dict->find("loss"));

  Result dtypes = readPath(torchDir() / "dtypes.pt");
  REQUIRE(dtypes.dict);
  const StateDictTensor *half = dtypes.dict->find("half");
  const StateDictTensor *longs = dtypes.dict->find("long");
  const StateDictTensor *flag = dtypes.dict->find("flag");
  REQUIRE((half && longs && flag));
  CHECK(half->dtype == "F16");
  CHECK(half->isFloat);
  CHECK(longs->dtype == "I64");
  CHECK_FALSE(longs->isFloat);
  CHECK(flag->dtype == "BOOL");
  CHECK(dtypes.dict->find("scalar")->load().data == std::vector<float>{2.5f});
  CHECK(dtypes.dict->find("empty")->load().data.empty());

  Result views = readPath(torchDir() / "views.pt");
  REQUIRE(views.dict);
  CHECK(views.dict->find("transposed")->shape == std::vector<int64_t>{6, 4});
  Tensor expanded = views.dict->find("expanded")->load();
  REQUIRE(expanded.data.size() == 12);
  for (int row = 1; row < 4; ++row)
    for (int col = 0; col < 3; ++col)
      CHECK(expanded.data[row * 3 + col] == expanded.data[col]);

  // One tensor object stored twice and views of its storage.
  Result shared = readPath(torchDir() / "shared_storage.pt");
  REQUIRE(shared.dict);
  Tensor encoder = shared.dict->find("encoder.weight")->load();
  Tensor transposed = shared.dict->find("transposed")->load();
  CHECK(shared.dict->find("decoder.weight")->load().data == encoder.data);
  CHECK(transposed.data[1] == encoder.data[2]); // [0][1] of w.t() is w[1][0]
}

TEST_CASE("the legacy format says how to re-save") {
  Result result = readPath(torchDir() / "legacy.pt");
  CHECK_FALSE(result.dict);
  CHECK(result.diagnostics.find("legacy format") != std::string::npos);
  CHECK(result.diagnostics.find("torch.save(torch.load(\"") !=
        std::string::npos);
}

//===----------------------------------------------------------------------===//
// The zip reader
//===----------------------------------------------------------------------===//

TEST_CASE("crc32 is zlib's") {
  CHECK(crc32("") == 0);
  CHECK(crc32("123456789") == 0xcbf43926u);
  CHECK(crc32(std::string(1000, 'a')) == 0x9a38da03u);
}

TEST_CASE("zip: a valid archive, a comment, and lookups") {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string bytes = makeZip({{"a/x", "hello"}, {"a/y", ""}});
  // A comment may follow the end record if its length says so.
  std::string commented = bytes;
  commented[commented.size() - 2] = 3;
  commented += "abc";
  for (const std::string &image : {bytes, commented}) {
    std::optional<ZipArchive> zip = ZipArchive::parse(image, "z", diag);
    REQUIRE(zip);
    REQUIRE(zip->find("a/x"));
    CHECK(zip->contents(*zip->find("a/x")) == "hello");
    CHECK(zip->find("a/y")->size == 0);
    CHECK_FALSE(zip->find("a/z"));
    CHECK(zip->verifyChecksum(*zip->find("a/x"), "z", diag));
  }
  CHECK(diag.getNumErrors() == 0);
}

TEST_CASE("zip: every offset and size is checked") {
  std::string good = makeZip({{"a/x", "hello"}, {"a/y", "world"}});
  size_t central = good.find(std::string("PK\x01\x02", 4));
  size_t secondCentral = good.find(std::string("PK\x01\x02", 4), central + 1);
  size_t secondLocal = 30 + 3 + 5;
  size_t end = good.size() - 22;
  struct Case {
    const char *what;
    std::function<void(std::string &)> corrupt;
    const char *message;
  } cases[] = {
      {"truncated", [](std::string &s) { s.resize(s.size() - 1); },
       "no zip end-of-central-directory record"},
      {"too small", [](std::string &s) { s.resize(10); },
       "too small for a zip archive"},
      {"multi-disk", [&](std::string &s) { s[end + 4] = 1; },
       "split (multi-disk)"},
      {"directory offset", [&](std::string &s) { s[end + 16] += 1; },
       "does not end where the end record starts"},
      {"entry count", [&](std::string &s) { s[end + 8] = s[end + 10] = 3; },
       "cannot hold the 3 entries"},
      {"saturated",
       [&](std::string &s) {
         s[end + 8] = s[end + 9] = s[end + 10] = s[end + 11] = '\xff';
       },
       "no ZIP64 end-of-central-directory record"},
      {"deflate", [&](std::string &s) { s[central + 10] = 8; },
       "compressed with deflate (method 8)"},
      {"encrypted", [&](std::string &s) { s[central + 8] = 1; }, "encrypted"},
      {"sizes differ", [&](std::string &s) { s[central + 20] = 4; },
       "compressed size 4 differs from its size 5"},
      {"local offset", [&](std::string &s) { s[central + 42] = 1; },
       "no local header at offset 1"},
      {"data past directory",
       [&](std::string &s) {
         s[secondCentral + 20] = s[secondCentral + 24] = 100;
         s[secondLocal + 18] = s[secondLocal + 22] = 100;
       },
       "run into the central directory"},
      {"local name", [&](std::string &s) { s[30] = 'b'; },
       "its local header at offset 0 names 'b/x'"},
      {"local crc", [&](std::string &s) { s[14] ^= 1; },
       "its local header's CRC"},
      {"local size", [&](std::string &s) { s[22] = 6; },
       "its local header's sizes (5, 6)"},
      {"duplicate name",
       [&](std::string &s) {
         s[secondCentral + 48] = s[secondLocal + 32] = 'x';
       },
       "two entries of that name"},
  };
  for (const Case &c : cases) {
    INFO(std::string(c.what));
    std::string bytes = good;
    c.corrupt(bytes);
    SourceManager sourceMgr;
    DiagnosticEngine diag(sourceMgr);
    std::string output;
    diag.captureTo(&output);
    CHECK_FALSE(ZipArchive::parse(bytes, "z", diag));
    INFO(output);
    CHECK(output.find(c.message) != std::string::npos);
    CHECK(diag.getNumErrors() == 1);
  }
}

TEST_CASE("zip: ZIP64 records and extra fields as torch.save writes them") {
  // An archive torch.save wrote has a ZIP64 end record and data
  // descriptors; rebuild the same layout with ZIP64 extra fields in place of
  // saturated central-directory fields.
  std::string name = "a/x", data = "payload";
  std::string local = le32(0x04034b50) + le16(45) + le16(8) + le16(0) +
                      le32(0) + le32(0) + le32(0) + le32(0) +
                      le16(uint16_t(name.size())) + le16(0) + name;
  std::string body = local + data + le32(0x08074b50) + le32(crc32(data)) +
                     le32(uint32_t(data.size())) + le32(uint32_t(data.size()));
  std::string extra =
      le16(1) + le16(24) + le64(data.size()) + le64(data.size()) + le64(0);
  std::string central =
      le32(0x02014b50) + le16(45) + le16(45) + le16(8) + le16(0) + le32(0) +
      le32(crc32(data)) + le32(0xffffffff) + le32(0xffffffff) +
      le16(uint16_t(name.size())) + le16(uint16_t(extra.size())) + le16(0) +
      le16(0) + le16(0) + le32(0) + le32(0xffffffff) + name + extra;
  uint64_t zip64At = body.size() + central.size();
  std::string zip64 = le32(0x06064b50) + le64(44) + le16(45) + le16(45) +
                      le32(0) + le32(0) + le64(1) + le64(1) +
                      le64(central.size()) + le64(body.size());
  std::string locator = le32(0x07064b50) + le32(0) + le64(zip64At) + le32(1);
  std::string end = le32(0x06054b50) + le16(0) + le16(0) + le16(0xffff) +
                    le16(0xffff) + le32(0xffffffff) + le32(0xffffffff) +
                    le16(0);
  std::string bytes = body + central + zip64 + locator + end;
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string output;
  diag.captureTo(&output);
  std::optional<ZipArchive> zip = ZipArchive::parse(bytes, "z", diag);
  INFO(output);
  REQUIRE(zip);
  CHECK(zip->contents(*zip->find("a/x")) == "payload");

  // The ZIP64 record must agree with the end record where it is not
  // saturated, and a saturated field needs its extra field.
  std::string contradicting = bytes;
  for (size_t field : {8, 10}) {
    contradicting[bytes.size() - 22 + field] = 2;
    contradicting[bytes.size() - 22 + field + 1] = 0;
  }
  CHECK_FALSE(ZipArchive::parse(contradicting, "z", diag));
  CHECK(output.find("contradicts the end record") != std::string::npos);
  std::string noExtra = bytes;
  // The extra field's id is no longer ZIP64's.
  noExtra[body.size() + 46 + name.size()] = 0x42;
  CHECK_FALSE(ZipArchive::parse(noExtra, "z", diag));
  CHECK(output.find("has no ZIP64 extra field") != std::string::npos);
}

//===----------------------------------------------------------------------===//
// The unpickler
//===----------------------------------------------------------------------===//

TEST_CASE("pickle: a hand-made state dict with views, ints and nesting") {
  // {"a": {"w": tensor[2, 3], "wt": its transpose, 7: tensor, (1,): tensor},
  //  "n": 5, "l": [tensor[2] at offset 4]} over one storage of 6 floats.
  std::string pickle = kProto2 + "}(" + str("a") + "}(" + str("w") +
                       tensorOps(6, {2, 3}, {3, 1}) + "q\x01" + str("wt") +
                       tensorOps(6, {3, 2}, {1, 3}) + int1(7) + "h\x01" +
                       int1(1) + "\x85" + "h\x01" + "u" + str("n") + int1(5) +
                       str("l") + "]" + tensorOps(6, {2}, {1}, 4) + "a" + "u.";
  Result result =
      parseBytes(checkpoint(pickle, {{"0", floatBytes({0, 1, 2, 3, 4, 5})}}));
  INFO(result.diagnostics);
  REQUIRE(result.dict);
  std::vector<std::string> names;
  for (const StateDictTensor &t : result.dict->tensors)
    names.push_back(t.name);
  // Tuple keys are not state_dict keys: that entry is dropped.
  CHECK(names == std::vector<std::string>{"a.w", "a.wt", "a.7", "l.0"});
  CHECK(result.dict->find("a.w")->load().data ==
        std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(result.dict->find("a.wt")->load().data ==
        std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(result.dict->find("l.0")->load().data == std::vector<float>{4, 5});
}

TEST_CASE("pickle: forbidden globals are named and never run") {
  std::string call = "(" + str("touch /tmp/seqc-must-not-exist") + "tR";
  expectRefused(kProto2 + global("posix", "system") + call + ".",
                "forbidden global 'posix.system': seqc only reads tensors, "
                "never runs code from a checkpoint");
  expectRefused(kProto2 + global("__builtin__", "eval") + call + ".",
                "forbidden global '__builtin__.eval'");
  expectRefused("\x80\x04" + str("builtins") + str("exec") + "\x93" + call +
                    ".",
                "forbidden global 'builtins.exec'");
  expectRefused(kProto2 + "(ios\nsystem\n.", "forbidden global 'os.system'");
  expectRefused(kProto2 + global("torch._utils", "_rebuild_qtensor") + ".",
                "unsupported tensor kind 'torch._utils._rebuild_qtensor'");
  expectRefused(kProto2 + global("torch.nn.modules.linear", "Linear") + ".",
                "save model.state_dict() instead");
  expectRefused(kProto2 + "\x82\x01.", "forbidden extension code");
  CHECK_FALSE(std::filesystem::exists("/tmp/seqc-must-not-exist"));
}

TEST_CASE("pickle: what torch's weights-only unpickler refuses") {
  std::string dict = kProto2 + "}";
  struct Case {
    std::string pickle;
    const char *message;
  } cases[] = {
      {"\x80\x06}.", "pickle protocol 6 is newer than 5"},
      {kProto2 + "}", "ends without STOP"},
      {kProto2 + ".", "the stack is empty"},
      {kProto2 + "(.", "nothing on the stack above the mark"},
      {kProto2 + "\xff.", "unknown opcode"},
      {dict + "Na.", "adds items to a dict, which is not a list"},
      {kProto2 + "]NNs.", "adds items to a list, which is not a dict"},
      {dict + "(Nu.", "keys and values in pairs"},
      {dict + "h\x05.", "memo entry 5 is not defined"},
      {dict + "P0\n.", "text persistent ids"},
      {dict + "S'x'\n.", "protocol-0 text strings"},
      {dict + "\x97.", "out-of-band buffers"},
      {dict + "(" + global("collections", "OrderedDict") + "o.",
       "built by OBJ are not supported"},
      {dict + global("collections", "OrderedDict") + ")\x81.",
       "built by NEWOBJ are not supported"},
      {kProto2 + "]}b.", "BUILD sets the state of a list"},
      {kProto2 + "N)R.", "REDUCE calls None"},
      {kProto2 + global("torch", "float32") + ")R.",
       "'torch.float32' cannot be called"},
      {kProto2 + global("torch", "Size") + "(" + int1(2) + "tR.",
       "'torch.Size' takes one tuple"},
      {kProto2 + "(" + str("storage") + global("torch", "Tensor") + str("0") +
           str("cpu") + int1(1) + "tQ.",
       "not a torch storage class"},
      {kProto2 + "(" + str("weights") + "tQ.", "a persistent id must be"},
      {kProto2 + "J\x00\x00\x00\x80"s + "\x8b\xff\xff\xff\xff.",
       "negative byte count"},
      {kProto2 + "X\x00\x00\x00\x00\xff."s, "unknown opcode"},
      {kProto2 + "X\x02\x00\x00\x00\xc3\x28."s, "not valid UTF-8"},
      {kProto2 + "\x8d" + le64(uint64_t(1) << 62) + ".",
       "a string of 4611686018427387904 bytes is longer than the limit"},
      {kProto2 + "X" + le32(100) + "abc", "100 bytes declared but only 3"},
      {kProto2 + "\x95" + le64(1000) + "}.", "a frame of 1000 bytes"},
      {kProto2 + "I0x10\n.", "invalid integer '0x10'"},
      {kProto2 + "Fx\n.", "invalid float 'x'"},
      {kProto2 + "]" + tensorOps(6, {2}, {1}) + ".", "no entry"},
  };
  for (const Case &c : cases) {
    INFO(std::string(c.message));
    expectRefused(c.pickle, c.message);
  }
}

TEST_CASE("pickle: numbers of every encoding") {
  // {"t": tensor whose offset is LONG1 2, size from LONG 3, stride from
  // INT 1}: the numbers feed the view, so a misread one shows.
  std::string pid = "(" + str("storage") + global("torch", "FloatStorage") +
                    str("0") + str("cpu") + "L6L\ntQ";
  std::string pickle = kProto2 + "}" + str("t") +
                       global("torch._utils", "_rebuild_tensor") + "(" + pid +
                       "\x8a\x01\x02" + "(I3\ntI1\n\x85" + "tR" + "s.";
  Result result =
      parseBytes(checkpoint(pickle, {{"0", floatBytes({0, 1, 2, 3, 4, 5})}}));
  INFO(result.diagnostics);
  REQUIRE(result.dict);
  CHECK(result.dict->find("t")->load().data == std::vector<float>{2, 3, 4});

  // Integers beyond 64 bits and other leaves are fine where no tensor needs
  // them; BINFLOAT, INT's booleans, bytes, sets and None are leaves.
  std::string leaves =
      kProto2 + "}(" + str("big") + "\x8a\x09" + std::string(8, '\0') + "\x01" +
      str("f") + "G?\xf0\x00\x00\x00\x00\x00\x00"s + str("b") + "I01\n" +
      str("bytes") + "C\x02hi" + str("set") + "\x8f(" + int1(1) + "\x90" +
      str("none") + "N" + str("dev") + global("torch", "device") + "(" +
      str("cpu") + "tR" + "u.";
  Result plain = parseBytes(checkpoint(leaves));
  INFO(plain.diagnostics);
  REQUIRE(plain.dict);
  CHECK(plain.dict->tensors.empty());
  // ... but a view needs 64-bit numbers.
  std::string bigPid = "(" + str("storage") + global("torch", "FloatStorage") +
                       str("0") + str("cpu") + "\x8a\x09" +
                       std::string(8, '\0') + "\x01" + "tQ.";
  expectRefused(kProto2 + bigPid, "a storage's size must be a non-negative");
}

TEST_CASE("pickle: views must lie within their storage") {
  std::vector<std::pair<std::string, std::string>> six = {
      {"0", floatBytes({0, 1, 2, 3, 4, 5})}};
  auto one = [](const std::string &tensor) {
    return kProto2 + "}" + str("w") + tensor + "s.";
  };
  expectRefused(one(tensorOps(6, {3, 4}, {4, 1})),
                "tensor 'w' (F32[3, 4], strides [4, 1], offset 0) needs "
                "element 11 of storage '0', which holds 6 elements",
                six);
  expectRefused(one(tensorOps(6, {2, 3}, {3, 1}, 1)), "needs element 6", six);
  expectRefused(one(tensorOps(6, {0}, {1}, 7)), "starts at element 7", six);
  expectRefused(one(tensorOps(9, {3}, {1})),
                "storage '0' declares 9 F32 elements (36 bytes) but "
                "'archive/data/0' holds 24 bytes",
                six);
  expectRefused(one(tensorOps(6, {2, 3}, {3})), "2 sizes but 1 strides", six);
  // Expanding a storage of 6 to 2^40 elements: a view PyTorch can save,
  // refused for its size before anything is allocated.
  std::string huge = global("torch._utils", "_rebuild_tensor_v2") + "(" + "(" +
                     str("storage") + global("torch", "FloatStorage") +
                     str("0") + str("cpu") + int1(6) + "tQ" + int1(0) + "(" +
                     "J\x00\x00\x10\x00"s + "J\x00\x00\x10\x00"s + "t" +
                     ints({0, 0}) + "\x89" + ")t" + "R";
  expectRefused(one(huge), "has more elements than the limit", six);
  // The same key declared with two element types.
  std::string twice = kProto2 + "}(" + str("a") + tensorOps(6, {6}, {1}) +
                      str("b") + tensorOps(6, {6}, {1}, 0, "0", "HalfStorage") +
                      "u.";
  expectRefused(twice,
                "storage '0' is declared as FloatStorage of 6 "
                "elements and as HalfStorage of 6",
                six);
}

TEST_CASE("pickle: keys must be unique, the root a dict") {
  std::vector<std::pair<std::string, std::string>> six = {
      {"0", floatBytes({0, 1, 2, 3, 4, 5})}};
  std::string pickle = kProto2 + "}(" + str("a.b") + tensorOps(6, {6}, {1}) +
                       str("a") + "}" + str("b") + tensorOps(6, {6}, {1}) +
                       "s" + "u.";
  expectRefused(pickle, "two tensors have the key 'a.b'", six);
  expectRefused(kProto2 + "].", "holds a list, not a dict of tensors");
}

TEST_CASE("pickle: bounds on memo, stack, values, nesting and sharing") {
  // 2^22 + 1 memo entries.
  std::string memo = kProto2 + "N";
  for (uint32_t i = 0; i <= kMaxPickleMemo; ++i)
    memo += "r" + le32(i);
  expectRefused(memo + ".", "more than 4194304 memo entries");
  // 2^20 marks.
  expectRefused(kProto2 + std::string(kMaxPickleStack + 1, '(') + ".",
                "the stack grows beyond 1048576 entries");
  // 2^22 pushes of the same value, popped again.
  std::string pushes = kProto2 + "N";
  for (uint64_t i = 0; i < kMaxPickleElements; ++i)
    pushes += "20";
  expectRefused(pushes + ".", "more than 4194304 values");
  // Lists nested 100000 deep: no recursion while unpickling, and the walk
  // stops at the nesting limit.
  const int depth = 100000;
  expectRefused(kProto2 + "}" + str("a") + std::string(depth, ']') +
                    std::string(depth - 1, 'a') + "s.",
                "nested more than 64 deep");
  // A list that contains itself.
  expectRefused(kProto2 + "}" + str("a") + "]q\x00h\x00"s + "as.",
                "nested more than 64 deep");
  // Each list holds the next one twice: 2^60 paths through 60 lists.
  std::string doubling = kProto2 + "}" + str("a") + "]q\x00"s;
  for (int i = 1; i < 60; ++i)
    doubling += fmt::format("0](h{}h{}eq{}", char(i - 1), char(i - 1), char(i));
  expectRefused(doubling + "s.", "visits more than 4194304 values");
}

//===----------------------------------------------------------------------===//
// The format-neutral reader
//===----------------------------------------------------------------------===//

TEST_CASE("readStateDict picks the reader by content and names the fix") {
  Result bare = parseBytes("\x80\x02}q\x00."s, "net.pt");
  CHECK_FALSE(bare.dict);
  CHECK(bare.diagnostics ==
        "net.pt: error: not a PyTorch checkpoint: torch.save writes a zip "
        "archive (starting with 'PK'), but this file starts with bytes 80 02 "
        "7d 71 (a bare pickle, as pickle.dump writes; save with torch.save "
        "instead)\n");
  Result empty = parseBytes("", "net.pth");
  CHECK(empty.diagnostics.find("this file is empty") != std::string::npos);
  // Without a PyTorch extension, the safetensors reader explains.
  Result other = parseBytes("garbage!garbage", "net.weights");
  CHECK(other.diagnostics.find("not a safetensors file?") != std::string::npos);
  // A safetensors file named .bin is read as what it is.
  std::string header = "{}      ";
  Result renamed = parseBytes(le64(header.size()) + header, "model.bin");
  CHECK(renamed.dict);
  CHECK(renamed.diagnostics.empty());
  CHECK(hasTorchCheckpointExtension("a/b.pth"));
  CHECK_FALSE(hasTorchCheckpointExtension("a.safetensors"));
}

//===----------------------------------------------------------------------===//
// Binding with key prefixes
//===----------------------------------------------------------------------===//

namespace {

using namespace seqc::frontend;

/// The lecture's MyNet, built as Sema would: three Linears in a Sequential,
/// each with a location in a small source buffer for notes.
struct LectureNet {
  SourceManager sourceMgr;
  DiagnosticEngine diag{sourceMgr};
  std::string output;
  std::shared_ptr<Module> net;

  LectureNet() {
    diag.captureTo(&output);
    uint32_t buffer = sourceMgr.addBuffer(
        "t.nn", "Body = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2))\n"
                "Net = nn.Sequential(Body, nn.Linear(2, 1))\n");
    auto linear = [&](int64_t in, int64_t out, uint32_t line, uint32_t col) {
      auto m = std::make_shared<Module>();
      m->kind = LayerKind::Linear;
      m->className = "Linear";
      m->description = fmt::format("Linear({}, {})", in, out);
      m->loc = {buffer, line, col};
      m->locLength = 15;
      m->inFeatures = in;
      m->outFeatures = out;
      m->params.resize(2);
      m->params[0].name = "weight";
      m->params[0].shape = {out, in};
      m->params[1].name = "bias";
      m->params[1].shape = {out};
      return m;
    };
    auto sequential = [&](std::vector<std::shared_ptr<Module>> children,
                          uint32_t line, uint32_t col) {
      auto m = std::make_shared<Module>();
      m->kind = LayerKind::Sequential;
      m->className = "Sequential";
      m->description = fmt::format("Sequential({} layers)", children.size());
      m->loc = {buffer, line, col};
      for (size_t i = 0; i < children.size(); ++i)
        m->childNames.push_back(std::to_string(i));
      m->children = std::move(children);
      return m;
    };
    auto body = sequential({linear(2, 3, 1, 22), linear(3, 2, 1, 39)}, 1, 8);
    net = sequential({body, linear(2, 1, 2, 27)}, 2, 7);
  }

  /// MyNet's three Linears in one Sequential (keys 0.*, 1.*, 2.*).
  std::shared_ptr<Module> flat() const {
    auto model = std::make_shared<Module>(*net);
    model->children = {net->children[0]->children[0],
                       net->children[0]->children[1], net->children[1]};
    model->childNames = {"0", "1", "2"};
    return model;
  }

  bool loadInto(const std::shared_ptr<Module> &module, std::string_view file) {
    output.clear();
    return loadStateDict(*module, (torchDir() / file).string(), true, diag);
  }
  /// The diagnostics with the data directory removed from paths.
  std::string messages() const {
    std::string text = output, dir = torchDir().string() + "/";
    for (size_t at; (at = text.find(dir)) != std::string::npos;)
      text.erase(at, dir.size());
    return text;
  }
};

} // namespace

TEST_CASE("loadStateDict: a prefix takes the tensors under it") {
  // mynet.pt holds MyNet's keys 0.*, 1.*, 2.*; Body has 0.* and 1.*.
  LectureNet model;
  REQUIRE(model.loadInto(model.net->children[0], "mynet.pt") == false);
  CHECK(model.messages().find("unexpected tensor '2.weight'") !=
        std::string::npos);

  StateDictOptions options;
  options.prefix = "model.";
  std::shared_ptr<Module> flat = model.flat();
  model.output.clear();
  CHECK(loadStateDict(*flat, (torchDir() / "mynet_checkpoint.pt").string(),
                      options, model.diag));
  INFO(model.output);
  CHECK(model.output.empty());
  CHECK(flat->children[2]->params[1].source == ParamSource::StateDict);
  CHECK(flat->children[2]->params[1].value.data ==
        std::vector<float>{-0.2270f});
}

TEST_CASE("loadStateDict: a prefix that would fix the keys is one error") {
  struct Case {
    const char *file;
    const char *prefix;
    WeightsOrigin origin;
    const char *expected;
  } cases[] = {
      {"mynet_wrapped.pt", "", WeightsOrigin::LoadStatement,
       "mynet_wrapped.pt: error: the file's keys have the prefix 'layers.' "
       "that the model's lack ('layers.0.weight' for '0.weight'): pass "
       "prefix=\"layers.\" to load_state_dict to take the tensors under it\n"},
      {"mynet_checkpoint.pt", "", WeightsOrigin::CommandLine,
       "mynet_checkpoint.pt: error: the file's keys have the prefix 'model.' "
       "that the model's lack ('model.0.weight' for '0.weight'): pass "
       "--weights-prefix model. to take the tensors under it\n"},
      {"mynet_checkpoint.pt", "model.layers.", WeightsOrigin::LoadStatement,
       "mynet_checkpoint.pt: error: the model's keys are under 'model.' in "
       "the file, not under 'model.layers.' ('model.0.weight' for "
       "'0.weight'): pass prefix=\"model.\" to load_state_dict\n"},
      {"mynet.pt", "net.", WeightsOrigin::CommandLine,
       "mynet.pt: error: no key starts with the prefix 'net.', but the file "
       "holds the model's keys without it: drop --weights-prefix\n"},
      {"training_checkpoint.pt", "ema.", WeightsOrigin::LoadStatement,
       "training_checkpoint.pt: error: no key starts with the prefix 'ema.' "
       "(the keys start with 'model.', 'optimizer.')\n"},
  };
  LectureNet model;
  std::shared_ptr<Module> flat = model.flat();
  for (const Case &c : cases) {
    StateDictOptions options;
    options.prefix = c.prefix;
    options.origin = c.origin;
    model.output.clear();
    CHECK_FALSE(loadStateDict(*flat, (torchDir() / c.file).string(), options,
                              model.diag));
    CHECK(model.messages() == c.expected);
  }
}

TEST_CASE("loadStateDict: a file for one part of the model says so") {
  // mynet.pt's first two layers are Body's 0.* and 1.*, but 2.* is not in
  // Body: no part fits. Body's own file loaded into Net does.
  LectureNet model;
  std::shared_ptr<Module> body = model.net->children[0];
  std::string bodyFile =
      (std::filesystem::temp_directory_path() / "seqc-body.safetensors")
          .string();
  std::string header =
      "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,"
      "24]},\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,"
      "36]},\"1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":"
      "[36,60]},\"1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
      "[60,68]}}";
  std::string message;
  REQUIRE(writeFileAtomic(
      bodyFile, le64(header.size()) + header + std::string(68, '\0'), message));
  model.output.clear();
  CHECK_FALSE(loadStateDict(*model.net, bodyFile, true, model.diag));
  std::filesystem::remove(bodyFile);
  CHECK(model.output ==
        bodyFile +
            ": error: the file holds the weights of the model's part '0' "
            "only ('0.weight' is '0.0.weight' in the model): load it into "
            "that part instead\n"
            "t.nn:1:8: note: part '0' is Sequential(2 layers), defined here\n"
            "  Body = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2))\n"
            "         ^\n");
}
