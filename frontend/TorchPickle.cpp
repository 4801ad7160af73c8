//===- TorchPickle.cpp - A restricted unpickler for torch.save data -------===//
//
// Part of seqc. The interpreter follows CPython's `pickle._Unpickler` opcode
// by opcode (Lib/pickle.py), with `torch._weights_only_unpickler`'s
// restrictions:
//   - GLOBAL, STACK_GLOBAL and INST name a global; only those in
//     allowedGlobals() are accepted, and they become Global values (nothing
//     is imported);
//   - REDUCE, NEWOBJ and NEWOBJ_EX apply an allowed global to arguments: seqc
//     implements each allowed call itself (callGlobal), as data;
//   - BUILD may only set attributes of a dict or tensor, which are dropped;
//   - APPEND(S), SETITEM(S) and ADDITEMS work on lists, dicts and sets only;
//   - BINPERSID only loads storages, `('storage', class, key, location, n)`;
//   - extension codes, out-of-band buffers, text persistent ids and the
//     protocol-0 string opcodes are refused.
// Every push counts against kMaxPickleElements, the stack and memo are
// bounded, and every length is checked against the bytes left before it is
// read, so a hostile pickle costs at most memory proportional to those
// bounds. Nothing recurses on the data: deep nesting only makes long chains
// of values (TorchCheckpoint bounds the depth it walks).
//
//===----------------------------------------------------------------------===//

#include "frontend/TorchPickle.h"

#include "compiler/support/ByteOrder.h"
#include "compiler/support/Quote.h"
#include "compiler/support/Utf8.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <span>
#include <unordered_map>

namespace seqc {

namespace {

//===----------------------------------------------------------------------===//
// What the pickle may name
//===----------------------------------------------------------------------===//

constexpr TorchStorageType kStorageTypes[] = {
    {"FloatStorage", "F32", 4, true},
    {"DoubleStorage", "F64", 8, true},
    {"HalfStorage", "F16", 2, true},
    {"BFloat16Storage", "BF16", 2, true},
    {"LongStorage", "I64", 8, false},
    {"IntStorage", "I32", 4, false},
    {"ShortStorage", "I16", 2, false},
    {"CharStorage", "I8", 1, false},
    {"ByteStorage", "U8", 1, false},
    {"BoolStorage", "BOOL", 1, false},
    {"ComplexFloatStorage", "C64", 8, false},
    {"ComplexDoubleStorage", "C128", 16, false},
    {"QInt8Storage", "QI8", 1, false},
    {"QUInt8Storage", "QU8", 1, false},
    {"QInt32Storage", "QI32", 4, false},
    {"QUInt4x2Storage", "QU4x2", 1, false},
    {"QUInt2x4Storage", "QU2x4", 1, false},
    {"UntypedStorage", "U8", 1, false},
};

/// The dtypes a pickle may name (`torch.float32` pickles as the global
/// `torch float32`).
constexpr const char *kDtypeNames[] = {
    "float32",    "float64", "float16", "bfloat16", "int64",     "int32",
    "int16",      "int8",    "uint8",   "bool",     "complex32", "complex64",
    "complex128", "qint8",   "quint8",  "qint32",   "quint4x2",  "quint2x4",
};

/// What an allowed global is, which decides what calling it does.
enum class GlobalKind : uint8_t {
  OrderedDict,
  RebuildTensorV2,
  RebuildTensor,
  RebuildParameter,
  RebuildParameterWithState,
  RebuildFromTypeV2,
  Parameter,
  TensorClass,
  Size,
  Device,
  Layout,
  CodecsEncode,
  Dtype,
  Storage,
};

struct AllowedGlobal {
  std::string name;
  GlobalKind kind;
  const TorchStorageType *storage = nullptr;
};

/// Every global `torch.load(weights_only=True)` accepts that seqc can use,
/// by `module.name`.
const std::vector<AllowedGlobal> &allowedGlobals() {
  static const std::vector<AllowedGlobal> globals = [] {
    std::vector<AllowedGlobal> list = {
        {"collections.OrderedDict", GlobalKind::OrderedDict},
        {"torch._utils._rebuild_tensor_v2", GlobalKind::RebuildTensorV2},
        {"torch._utils._rebuild_tensor", GlobalKind::RebuildTensor},
        {"torch._utils._rebuild_parameter", GlobalKind::RebuildParameter},
        {"torch._utils._rebuild_parameter_with_state",
         GlobalKind::RebuildParameterWithState},
        {"torch._tensor._rebuild_from_type_v2", GlobalKind::RebuildFromTypeV2},
        {"torch.nn.parameter.Parameter", GlobalKind::Parameter},
        {"torch.Tensor", GlobalKind::TensorClass},
        {"torch.Size", GlobalKind::Size},
        {"torch.device", GlobalKind::Device},
        {"torch.serialization._get_layout", GlobalKind::Layout},
        // How protocol 2 pickles a bytes object.
        {"_codecs.encode", GlobalKind::CodecsEncode},
    };
    for (const char *dtype : kDtypeNames)
      list.push_back({std::string("torch.") + dtype, GlobalKind::Dtype});
    for (const TorchStorageType &type : kStorageTypes)
      list.push_back(
          {std::string("torch.") + type.className, GlobalKind::Storage, &type});
    return list;
  }();
  return globals;
}

/// The index of \p name in allowedGlobals(), or -1.
int64_t findAllowedGlobal(std::string_view name) {
  const std::vector<AllowedGlobal> &globals = allowedGlobals();
  for (size_t i = 0; i < globals.size(); ++i)
    if (globals[i].name == name)
      return static_cast<int64_t>(i);
  return -1;
}

/// Why a global is refused, for the message.
std::string refusal(std::string_view name) {
  if (name.starts_with("torch._utils._rebuild") ||
      name.starts_with("torch._tensor._rebuild"))
    return fmt::format("unsupported tensor kind {}: seqc reads dense tensors "
                       "only (not sparse, quantized, meta or subclassed ones)",
                       quoteName(name));
  std::string message = fmt::format("forbidden global {}: seqc only reads "
                                    "tensors, never runs code from a "
                                    "checkpoint",
                                    quoteName(name));
  if (name.starts_with("torch.nn.modules.") || name.starts_with("__main__."))
    message += " (the file holds a pickled module, as torch.save(model) "
               "writes; save model.state_dict() instead)";
  return message;
}

//===----------------------------------------------------------------------===//
// Opcodes (CPython's Lib/pickle.py names)
//===----------------------------------------------------------------------===//

enum Opcode : uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  FLOAT = 'F',
  INT = 'I',
  BININT = 'J',
  BININT1 = 'K',
  LONG = 'L',
  BININT2 = 'M',
  NONE = 'N',
  PERSID = 'P',
  BINPERSID = 'Q',
  REDUCE = 'R',
  STRING = 'S',
  BINSTRING = 'T',
  SHORT_BINSTRING = 'U',
  UNICODE = 'V',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  GET = 'g',
  BINGET = 'h',
  INST = 'i',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  OBJ = 'o',
  PUT = 'p',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  // Protocol 2.
  PROTO = 0x80,
  NEWOBJ = 0x81,
  EXT1 = 0x82,
  EXT2 = 0x83,
  EXT4 = 0x84,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  LONG4 = 0x8b,
  // Protocol 3.
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  // Protocol 4.
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  EMPTY_SET = 0x8f,
  ADDITEMS = 0x90,
  FROZENSET = 0x91,
  NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
  // Protocol 5.
  BYTEARRAY8 = 0x96,
  NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};

/// Highest pickle protocol (Python 3.8's).
constexpr unsigned kMaxProtocol = 5;

/// Parses an optionally signed decimal integer. Sets \p big when it does
/// not fit 64 bits; returns false when \p text is not one.
bool parseDecimal(std::string_view text, int64_t &value, bool &big) {
  big = false;
  bool negative = !text.empty() && text[0] == '-';
  if (!text.empty() && (text[0] == '-' || text[0] == '+'))
    text.remove_prefix(1);
  if (text.empty())
    return false;
  uint64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    uint64_t digit = uint64_t(c - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      big = true;
    else
      magnitude = magnitude * 10 + digit;
  }
  uint64_t limit = uint64_t(std::numeric_limits<int64_t>::max()) + negative;
  if (big || magnitude > limit) {
    big = true;
    return true;
  }
  value = negative ? static_cast<int64_t>(0 - magnitude)
                   : static_cast<int64_t>(magnitude);
  return true;
}

//===----------------------------------------------------------------------===//
// The interpreter
//===----------------------------------------------------------------------===//

using Kind = PickleValue::Kind;

class Unpickler {
public:
  Unpickler(std::string_view pickle, std::string_view displayName,
            DiagnosticEngine &diag, UnpickledData &out)
      : pickle(pickle), displayName(displayName), diag(diag), out(out) {}

  /// Runs the pickle to its STOP; false after reporting a problem.
  bool run();

private:
  // Reporting.
  bool fail(std::string_view message) {
    diag.fileError(displayName, fmt::format("invalid pickle at byte {} of "
                                            "data.pkl ({}): {}",
                                            opStart, opcodeName(), message));
    return false;
  }
  bool refuse(std::string_view message) {
    diag.fileError(displayName, message);
    return false;
  }
  std::string opcodeName() const;

  // Reading the pickle's bytes.
  bool readBytes(uint64_t n, std::string_view &bytes);
  bool readLine(std::string_view &line);
  template <typename T> bool readLE(T &value);
  /// Reads a little-endian T and widens it.
  template <typename T> bool readUnsigned(uint64_t &value) {
    T narrow;
    if (!readLE(narrow))
      return false;
    value = narrow;
    return true;
  }
  bool readMemoIndex(uint8_t opcode, uint64_t &index);

  // The stack.
  PickleValue *make(Kind kind) {
    PickleValue &value = out.values.emplace_back();
    value.kind = kind;
    return &value;
  }
  bool push(PickleValue *value);
  bool pushNew(Kind kind) { return push(make(kind)); }
  size_t frameBase() const { return marks.empty() ? 0 : marks.back(); }
  bool pop(PickleValue *&value);
  bool top(PickleValue *&value);
  bool popMark(std::vector<PickleValue *> &items);

  // Groups of opcodes, each run by one method.
  using Handler = bool (Unpickler::*)(uint8_t opcode);
  static const std::array<Handler, 256> &handlers();
  bool readHeader(uint8_t opcode);
  bool stop(uint8_t opcode);
  bool manipulateStack(uint8_t opcode);
  bool loadConstant(uint8_t opcode);
  bool refuseOpcode(uint8_t opcode);
  bool loadInt(uint8_t opcode);
  bool loadTextNumber(uint8_t opcode);
  bool loadString(uint8_t opcode);
  bool loadMemo(uint8_t opcode);
  bool storeMemo(uint8_t opcode);
  bool loadTuple(uint8_t opcode);
  bool addItems(uint8_t opcode);
  bool loadFromMark(uint8_t opcode);
  bool loadGlobal(uint8_t opcode);
  bool reduce(uint8_t opcode);
  bool newObject(uint8_t opcode);
  bool build(uint8_t opcode);
  bool persistentLoad(uint8_t opcode);

  // Calls of allowed globals.
  bool resolveGlobal(std::string_view module, std::string_view name);
  const AllowedGlobal *globalOf(const PickleValue *value) const;
  bool callGlobal(const AllowedGlobal &callee,
                  std::span<PickleValue *const> args, PickleValue *&result);
  bool rebuildTensor(const AllowedGlobal &callee,
                     std::span<PickleValue *const> args, PickleValue *&result);
  bool readDims(const PickleValue *value, const char *what,
                std::vector<int64_t> &dims);

  std::string_view pickle;
  std::string_view displayName;
  DiagnosticEngine &diag;
  UnpickledData &out;

  size_t pos = 0;
  size_t opStart = 0;
  uint8_t op = 0;
  bool stopped = false;
  uint64_t numElements = 0;
  std::vector<PickleValue *> stack;
  std::vector<size_t> marks;
  std::unordered_map<uint64_t, PickleValue *> memo;
  std::unordered_map<std::string, size_t> storageByKey;
};

std::string Unpickler::opcodeName() const {
  unsigned char c = op;
  if (c >= 0x20 && c < 0x7f)
    return fmt::format("opcode '{}'", char(c));
  return fmt::format("opcode 0x{:02x}", c);
}

bool Unpickler::readBytes(uint64_t n, std::string_view &bytes) {
  if (n > pickle.size() - pos)
    return fail(fmt::format("{} bytes declared but only {} remain", n,
                            pickle.size() - pos));
  bytes = pickle.substr(pos, n);
  pos += n;
  return true;
}

bool Unpickler::readLine(std::string_view &line) {
  size_t end = pickle.find('\n', pos);
  if (end == std::string_view::npos)
    return fail("unterminated line");
  line = pickle.substr(pos, end - pos);
  pos = end + 1;
  return true;
}

template <typename T> bool Unpickler::readLE(T &value) {
  std::string_view bytes;
  if (!readBytes(sizeof(T), bytes))
    return false;
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  if constexpr (sizeof(T) == 1)
    value = p[0];
  else if constexpr (sizeof(T) == 2)
    value = loadLE16(p);
  else if constexpr (sizeof(T) == 4)
    value = loadLE32(p);
  else
    value = loadLE64(p);
  return true;
}

bool Unpickler::push(PickleValue *value) {
  if (++numElements > kMaxPickleElements)
    return fail(fmt::format("more than {} values", kMaxPickleElements));
  if (stack.size() + marks.size() >= kMaxPickleStack)
    return fail(
        fmt::format("the stack grows beyond {} entries", kMaxPickleStack));
  stack.push_back(value);
  return true;
}

bool Unpickler::pop(PickleValue *&value) {
  if (stack.size() <= frameBase())
    return fail(marks.empty() ? "the stack is empty"
                              : "nothing on the stack above the mark");
  value = stack.back();
  stack.pop_back();
  return true;
}

bool Unpickler::top(PickleValue *&value) {
  if (stack.size() <= frameBase())
    return fail(marks.empty() ? "the stack is empty"
                              : "nothing on the stack above the mark");
  value = stack.back();
  return true;
}

bool Unpickler::popMark(std::vector<PickleValue *> &items) {
  if (marks.empty())
    return fail("no mark on the stack");
  size_t mark = marks.back();
  marks.pop_back();
  items.assign(stack.begin() + static_cast<ptrdiff_t>(mark), stack.end());
  stack.resize(mark);
  return true;
}

/// The method that runs each opcode; unknown ones are refused.
const std::array<Unpickler::Handler, 256> &Unpickler::handlers() {
  static const std::array<Handler, 256> table = [] {
    std::array<Handler, 256> t;
    t.fill(&Unpickler::refuseOpcode);
    auto set = [&](std::initializer_list<uint8_t> opcodes, Handler handler) {
      for (uint8_t opcode : opcodes)
        t[opcode] = handler;
    };
    set({PROTO, FRAME}, &Unpickler::readHeader);
    set({STOP}, &Unpickler::stop);
    set({MARK, POP, POP_MARK, DUP}, &Unpickler::manipulateStack);
    set({NONE, NEWTRUE, NEWFALSE, EMPTY_LIST, EMPTY_DICT, EMPTY_SET},
        &Unpickler::loadConstant);
    set({BININT, BININT1, BININT2, LONG1, LONG4}, &Unpickler::loadInt);
    set({INT, LONG, FLOAT, BINFLOAT}, &Unpickler::loadTextNumber);
    set({BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING,
         BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8},
        &Unpickler::loadString);
    set({GET, BINGET, LONG_BINGET}, &Unpickler::loadMemo);
    set({PUT, BINPUT, LONG_BINPUT, MEMOIZE}, &Unpickler::storeMemo);
    set({EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3, TUPLE}, &Unpickler::loadTuple);
    set({LIST, DICT, FROZENSET}, &Unpickler::loadFromMark);
    set({APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS}, &Unpickler::addItems);
    set({GLOBAL, STACK_GLOBAL, INST, OBJ}, &Unpickler::loadGlobal);
    set({REDUCE}, &Unpickler::reduce);
    set({NEWOBJ, NEWOBJ_EX}, &Unpickler::newObject);
    set({BUILD}, &Unpickler::build);
    set({BINPERSID}, &Unpickler::persistentLoad);
    return t;
  }();
  return table;
}

bool Unpickler::run() {
  while (!stopped) {
    opStart = pos;
    if (pos >= pickle.size()) {
      op = 0;
      return fail("the pickle ends without STOP (truncated?)");
    }
    op = static_cast<uint8_t>(pickle[pos++]);
    if (!(this->*handlers()[op])(op))
      return false;
  }
  return true;
}

bool Unpickler::readHeader(uint8_t opcode) {
  if (opcode == PROTO) {
    uint64_t protocol;
    if (!readUnsigned<uint8_t>(protocol))
      return false;
    if (protocol > kMaxProtocol)
      return fail(fmt::format("pickle protocol {} is newer than {}", protocol,
                              kMaxProtocol));
    return true;
  }
  // FRAME: a framing hint; the frame's opcodes follow in place.
  uint64_t length;
  if (!readLE(length))
    return false;
  if (length > pickle.size() - pos)
    return fail(fmt::format("a frame of {} bytes runs past the end of the "
                            "pickle",
                            length));
  return true;
}

bool Unpickler::stop(uint8_t) {
  PickleValue *root = nullptr;
  if (!pop(root))
    return false;
  out.root = root;
  stopped = true;
  return true;
}

bool Unpickler::manipulateStack(uint8_t opcode) {
  std::vector<PickleValue *> discarded;
  switch (opcode) {
  case MARK:
    if (stack.size() + marks.size() >= kMaxPickleStack)
      return fail(
          fmt::format("the stack grows beyond {} entries", kMaxPickleStack));
    marks.push_back(stack.size());
    return true;
  case POP:
    // As in CPython, POP on an empty frame drops the mark.
    if (stack.size() > frameBase()) {
      stack.pop_back();
      return true;
    }
    return popMark(discarded);
  case POP_MARK:
    return popMark(discarded);
  default: { // DUP
    PickleValue *value = nullptr;
    return top(value) && push(value);
  }
  }
}

bool Unpickler::loadConstant(uint8_t opcode) {
  switch (opcode) {
  case EMPTY_LIST:
    return pushNew(Kind::List);
  case EMPTY_DICT:
    return pushNew(Kind::Dict);
  case EMPTY_SET:
    return pushNew(Kind::Set);
  case NONE:
    return pushNew(Kind::None);
  default: { // NEWTRUE, NEWFALSE
    PickleValue *value = make(Kind::Bool);
    value->boolean = opcode == NEWTRUE;
    return push(value);
  }
  }
}

bool Unpickler::refuseOpcode(uint8_t opcode) {
  switch (opcode) {
  case STRING:
  case UNICODE:
    return fail("protocol-0 text strings are not supported (torch.save never "
                "writes them)");
  case PERSID:
    return fail("text persistent ids are not storages (torch.save writes "
                "BINPERSID)");
  case EXT1:
  case EXT2:
  case EXT4:
    return refuse("forbidden extension code (copyreg registry): seqc only "
                  "reads tensors, never runs code from a checkpoint");
  case NEXT_BUFFER:
  case READONLY_BUFFER:
    return fail("out-of-band buffers are not supported");
  default:
    return fail("unknown opcode");
  }
}

bool Unpickler::loadInt(uint8_t opcode) {
  PickleValue *value = make(Kind::Int);
  uint64_t bits = 0;
  if (opcode == BININT) {
    if (!readUnsigned<uint32_t>(bits))
      return false;
    value->integer = static_cast<int32_t>(bits);
    return push(value);
  }
  if (opcode == BININT1 || opcode == BININT2) {
    if (opcode == BININT1 ? !readUnsigned<uint8_t>(bits)
                          : !readUnsigned<uint16_t>(bits))
      return false;
    value->integer = static_cast<int64_t>(bits);
    return push(value);
  }
  // LONG1 / LONG4: a little-endian two's complement number of n bytes.
  uint64_t length;
  if (opcode == LONG1 ? !readUnsigned<uint8_t>(length)
                      : !readUnsigned<uint32_t>(length))
    return false;
  if (opcode == LONG4 && static_cast<int32_t>(length) < 0)
    return fail("negative byte count");
  std::string_view bytes;
  if (!readBytes(length, bytes))
    return false;
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  bool negative = length > 0 && (p[length - 1] & 0x80);
  bits = negative ? ~uint64_t(0) : 0;
  for (uint64_t i = 0; i < length && i < 8; ++i) {
    bits &= ~(uint64_t(0xff) << (8 * i));
    bits |= uint64_t(p[i]) << (8 * i);
  }
  // Wider encodings fit 64 bits when their upper bytes only extend the sign.
  bool fits = true;
  for (uint64_t i = 8; i < length; ++i)
    fits &= p[i] == (negative ? 0xff : 0x00);
  if (length > 8)
    fits &= bool(bits >> 63) == negative;
  if (!fits)
    value->kind = Kind::BigInt;
  value->integer = static_cast<int64_t>(bits);
  return push(value);
}

bool Unpickler::loadTextNumber(uint8_t opcode) {
  if (opcode == BINFLOAT) {
    std::string_view bytes;
    if (!readBytes(8, bytes))
      return false;
    uint64_t bits =
        loadBE64(reinterpret_cast<const unsigned char *>(bytes.data()));
    PickleValue *value = make(Kind::Float);
    std::memcpy(&value->real, &bits, 8);
    return push(value);
  }
  std::string_view line;
  if (!readLine(line))
    return false;
  if (opcode == FLOAT) {
    PickleValue *value = make(Kind::Float);
    auto [end, ec] =
        std::from_chars(line.data(), line.data() + line.size(), value->real);
    if (ec != std::errc() || end != line.data() + line.size())
      return fail(fmt::format("invalid float {}", quoteName(line)));
    return push(value);
  }
  if (opcode == INT && (line == "00" || line == "01")) {
    PickleValue *value = make(Kind::Bool);
    value->boolean = line == "01";
    return push(value);
  }
  if (opcode == LONG && line.ends_with('L'))
    line.remove_suffix(1);
  PickleValue *value = make(Kind::Int);
  bool big = false;
  if (!parseDecimal(line, value->integer, big))
    return fail(fmt::format("invalid integer {}", quoteName(line)));
  if (big)
    value->kind = Kind::BigInt;
  return push(value);
}

bool Unpickler::loadString(uint8_t opcode) {
  uint64_t length = 0;
  bool ok;
  switch (opcode) {
  case SHORT_BINUNICODE:
  case SHORT_BINSTRING:
  case SHORT_BINBYTES:
    ok = readUnsigned<uint8_t>(length);
    break;
  case BINUNICODE:
  case BINBYTES:
  case BINSTRING:
    ok = readUnsigned<uint32_t>(length);
    if (ok && opcode == BINSTRING && static_cast<int32_t>(length) < 0)
      return fail("negative string length");
    break;
  default: // BINUNICODE8, BINBYTES8, BYTEARRAY8
    ok = readLE(length);
    break;
  }
  if (!ok)
    return false;
  if (length > kMaxPickleString)
    return fail(fmt::format("a string of {} bytes is longer than the limit "
                            "of {}",
                            length, kMaxPickleString));
  std::string_view bytes;
  if (!readBytes(length, bytes))
    return false;
  bool isText = opcode == BINUNICODE || opcode == SHORT_BINUNICODE ||
                opcode == BINUNICODE8 || opcode == BINSTRING ||
                opcode == SHORT_BINSTRING;
  // Python 2 strings (BINSTRING) decode as UTF-8, as torch.load asks.
  if (isText && findInvalidUtf8(bytes, /*allowSurrogates=*/true) !=
                    std::string_view::npos)
    return fail("a string is not valid UTF-8");
  PickleValue *value = make(isText ? Kind::String : Kind::Bytes);
  value->text.assign(bytes);
  return push(value);
}

bool Unpickler::readMemoIndex(uint8_t opcode, uint64_t &index) {
  if (opcode == BINGET || opcode == BINPUT)
    return readUnsigned<uint8_t>(index);
  if (opcode == LONG_BINGET || opcode == LONG_BINPUT)
    return readUnsigned<uint32_t>(index);
  std::string_view line;
  int64_t n = 0;
  bool big = false;
  if (!readLine(line))
    return false;
  if (!parseDecimal(line, n, big) || big || n < 0)
    return fail(fmt::format("invalid memo index {}", quoteName(line)));
  index = static_cast<uint64_t>(n);
  return true;
}

bool Unpickler::loadMemo(uint8_t opcode) {
  uint64_t index = 0;
  if (!readMemoIndex(opcode, index))
    return false;
  auto it = memo.find(index);
  if (it == memo.end())
    return fail(fmt::format("memo entry {} is not defined", index));
  return push(it->second);
}

bool Unpickler::storeMemo(uint8_t opcode) {
  uint64_t index = memo.size(); // MEMOIZE's
  if (opcode != MEMOIZE && !readMemoIndex(opcode, index))
    return false;
  PickleValue *value = nullptr;
  if (!top(value))
    return false;
  if (memo.size() >= kMaxPickleMemo && !memo.count(index))
    return fail(fmt::format("more than {} memo entries", kMaxPickleMemo));
  memo[index] = value;
  return true;
}

bool Unpickler::loadTuple(uint8_t opcode) {
  PickleValue *tuple = make(Kind::Tuple);
  if (opcode == TUPLE) {
    if (!popMark(tuple->items))
      return false;
    return push(tuple);
  }
  size_t count = opcode == EMPTY_TUPLE ? 0 : opcode - TUPLE1 + 1;
  if (stack.size() - frameBase() < count)
    return fail(fmt::format("a tuple of {} needs {} values on the stack", count,
                            count));
  tuple->items.assign(stack.end() - static_cast<ptrdiff_t>(count), stack.end());
  stack.resize(stack.size() - count);
  return push(tuple);
}

bool Unpickler::loadFromMark(uint8_t opcode) {
  std::vector<PickleValue *> items;
  if (!popMark(items))
    return false;
  Kind kind = opcode == LIST   ? Kind::List
              : opcode == DICT ? Kind::Dict
                               : Kind::Set;
  if (kind == Kind::Dict && items.size() % 2 != 0)
    return fail("a dict needs keys and values in pairs");
  PickleValue *value = make(kind);
  value->items = std::move(items);
  return push(value);
}

bool Unpickler::addItems(uint8_t opcode) {
  std::vector<PickleValue *> items;
  if (opcode == APPEND) {
    items.resize(1);
    if (!pop(items[0]))
      return false;
  } else if (opcode == SETITEM) {
    items.resize(2);
    if (!pop(items[1]) || !pop(items[0]))
      return false;
  } else if (!popMark(items)) {
    return false;
  }
  PickleValue *target = nullptr;
  if (!top(target))
    return false;
  Kind wanted = opcode == APPEND || opcode == APPENDS ? Kind::List
                : opcode == ADDITEMS                  ? Kind::Set
                                                      : Kind::Dict;
  if (target->kind != wanted)
    return fail(fmt::format("adds items to {}, which is not {}",
                            describePickleKind(target->kind),
                            describePickleKind(wanted)));
  if (wanted == Kind::Dict && items.size() % 2 != 0)
    return fail("a dict needs keys and values in pairs");
  target->items.insert(target->items.end(), items.begin(), items.end());
  return true;
}

bool Unpickler::resolveGlobal(std::string_view module, std::string_view name) {
  std::string full = fmt::format("{}.{}", module, name);
  int64_t index = findAllowedGlobal(full);
  if (index < 0)
    return refuse(refusal(full));
  PickleValue *value = make(Kind::Global);
  value->text = std::move(full);
  value->integer = index;
  return push(value);
}

const AllowedGlobal *Unpickler::globalOf(const PickleValue *value) const {
  if (value->kind != Kind::Global)
    return nullptr;
  return &allowedGlobals()[static_cast<size_t>(value->integer)];
}

bool Unpickler::loadGlobal(uint8_t opcode) {
  std::string_view module, name;
  if (opcode == STACK_GLOBAL) {
    PickleValue *nameValue = nullptr, *moduleValue = nullptr;
    if (!pop(nameValue) || !pop(moduleValue))
      return false;
    if (nameValue->kind != Kind::String || moduleValue->kind != Kind::String)
      return fail("STACK_GLOBAL needs two strings");
    module = moduleValue->text;
    name = nameValue->text;
  } else if (opcode == GLOBAL || opcode == INST) {
    if (!readLine(module) || !readLine(name))
      return false;
  }
  if (opcode == GLOBAL || opcode == STACK_GLOBAL)
    return resolveGlobal(module, name);
  // INST and OBJ make an instance of a class without a reduce function;
  // torch.save never writes them, and no allowed global is built that way.
  std::string full;
  if (opcode == OBJ) {
    std::vector<PickleValue *> items;
    if (!popMark(items))
      return false;
    if (items.empty() || items[0]->kind != Kind::Global)
      return fail("OBJ needs a class after the mark");
    full = items[0]->text;
  } else {
    full = fmt::format("{}.{}", module, name);
    if (findAllowedGlobal(full) < 0)
      return refuse(refusal(full));
  }
  return fail(fmt::format("instances of {} built by {} are not supported",
                          quoteName(full), opcode == OBJ ? "OBJ" : "INST"));
}

bool Unpickler::reduce(uint8_t) {
  PickleValue *args = nullptr, *callable = nullptr;
  if (!pop(args) || !top(callable))
    return false;
  const AllowedGlobal *callee = globalOf(callable);
  if (!callee)
    return fail(fmt::format("REDUCE calls {}, not an allowed function",
                            describePickleKind(callable->kind)));
  if (args->kind != Kind::Tuple)
    return fail(fmt::format("the arguments of {} are {}, not a tuple",
                            quoteName(callee->name),
                            describePickleKind(args->kind)));
  PickleValue *result = nullptr;
  if (!callGlobal(*callee, args->items, result))
    return false;
  stack.back() = result;
  return true;
}

bool Unpickler::newObject(uint8_t opcode) {
  PickleValue *kwargs = nullptr, *args, *cls;
  if (opcode == NEWOBJ_EX && !pop(kwargs))
    return false;
  if (!pop(args) || !top(cls))
    return false;
  const AllowedGlobal *callee = globalOf(cls);
  if (!callee)
    return fail(fmt::format("NEWOBJ instantiates {}, not an allowed class",
                            describePickleKind(cls->kind)));
  // As in torch's weights-only unpickler, only Parameter is built this way.
  if (callee->kind != GlobalKind::Parameter)
    return fail(fmt::format("instances of {} built by NEWOBJ are not "
                            "supported",
                            quoteName(callee->name)));
  if (args->kind != Kind::Tuple ||
      (kwargs && (kwargs->kind != Kind::Dict || !kwargs->items.empty())))
    return fail("Parameter needs a tuple of arguments");
  PickleValue *result = nullptr;
  if (!callGlobal(*callee, args->items, result))
    return false;
  stack.back() = result;
  return true;
}

bool Unpickler::build(uint8_t) {
  PickleValue *state = nullptr, *instance = nullptr;
  if (!pop(state) || !top(instance))
    return false;
  // An OrderedDict's attributes (a state_dict's `_metadata`) and a tensor's
  // Python attributes are not weights: they are dropped.
  if (instance->kind == Kind::Dict || instance->kind == Kind::Tensor)
    return true;
  return fail(fmt::format("BUILD sets the state of {}; only dicts and "
                          "tensors may have one",
                          describePickleKind(instance->kind)));
}

bool Unpickler::persistentLoad(uint8_t) {
  PickleValue *pid = nullptr;
  if (!pop(pid))
    return false;
  auto isText = [](const PickleValue *v) {
    return v->kind == Kind::String || v->kind == Kind::Bytes;
  };
  if (pid->kind != Kind::Tuple || pid->items.size() != 5 ||
      !isText(pid->items[0]) || pid->items[0]->text != "storage")
    return fail("a persistent id must be ('storage', class, key, location, "
                "size)");
  const std::vector<PickleValue *> &fields = pid->items;
  const AllowedGlobal *type = globalOf(fields[1]);
  if (!type || type->kind != GlobalKind::Storage)
    return fail(fmt::format("storage class is {}, not a torch storage class",
                            fields[1]->kind == Kind::Global
                                ? quoteName(fields[1]->text)
                                : describePickleKind(fields[1]->kind)));
  if (!isText(fields[2]) || !isText(fields[3]))
    return fail("a storage's key and location must be strings");
  if (fields[4]->kind != Kind::Int || fields[4]->integer < 0)
    return fail("a storage's size must be a non-negative integer");
  const std::string &key = fields[2]->text;
  uint64_t numel = static_cast<uint64_t>(fields[4]->integer);
  uint64_t bytes;
  if (__builtin_mul_overflow(numel, type->storage->size, &bytes))
    return fail(fmt::format("storage {} of {} elements overflows 64 bits",
                            quoteName(key), numel));

  auto [it, inserted] = storageByKey.emplace(key, out.storages.size());
  if (inserted) {
    out.storages.push_back({key, type->storage, numel});
  } else {
    const TorchStorage &known = out.storages[it->second];
    if (known.type != type->storage || known.numel != numel)
      return fail(fmt::format("storage {} is declared as {} of {} elements "
                              "and as {} of {}",
                              quoteName(key), known.type->className,
                              known.numel, type->storage->className, numel));
  }
  PickleValue *value = make(Kind::Storage);
  value->integer = static_cast<int64_t>(it->second);
  return push(value);
}

bool Unpickler::readDims(const PickleValue *value, const char *what,
                         std::vector<int64_t> &dims) {
  if (value->kind != Kind::Tuple && value->kind != Kind::List)
    return fail(fmt::format("a tensor's {} is {}, not a tuple", what,
                            describePickleKind(value->kind)));
  if (value->items.size() > kMaxTensorRank)
    return fail(fmt::format("a tensor has {} dimensions, more than {}",
                            value->items.size(), kMaxTensorRank));
  for (const PickleValue *item : value->items) {
    if (item->kind != Kind::Int || item->integer < 0)
      return fail(fmt::format("a tensor's {} holds {}, not a non-negative "
                              "integer",
                              what,
                              item->kind == Kind::Int
                                  ? std::to_string(item->integer)
                                  : describePickleKind(item->kind)));
    dims.push_back(item->integer);
  }
  return true;
}

bool Unpickler::rebuildTensor(const AllowedGlobal &callee,
                              std::span<PickleValue *const> args,
                              PickleValue *&result) {
  // _rebuild_tensor(storage, offset, size, stride) and _rebuild_tensor_v2(
  // ..., requires_grad, backward_hooks[, metadata]); the hooks and metadata
  // do not change the values.
  bool v2 = callee.kind == GlobalKind::RebuildTensorV2;
  if (v2 ? args.size() != 6 && args.size() != 7 : args.size() != 4)
    return fail(fmt::format("{} takes {} arguments, not {}",
                            quoteName(callee.name), v2 ? "6 or 7" : "4",
                            args.size()));
  if (args[0]->kind != Kind::Storage)
    return fail(fmt::format("a tensor's storage is {}",
                            describePickleKind(args[0]->kind)));
  if (args[1]->kind != Kind::Int || args[1]->integer < 0)
    return fail("a tensor's storage offset must be a non-negative integer");
  TorchTensor tensor;
  tensor.storage = static_cast<size_t>(args[0]->integer);
  tensor.offset = static_cast<uint64_t>(args[1]->integer);
  if (!readDims(args[2], "size", tensor.shape) ||
      !readDims(args[3], "stride", tensor.strides))
    return false;
  if (tensor.shape.size() != tensor.strides.size())
    return fail(fmt::format("a tensor has {} sizes but {} strides",
                            tensor.shape.size(), tensor.strides.size()));
  result = make(Kind::Tensor);
  result->integer = static_cast<int64_t>(out.tensors.size());
  out.tensors.push_back(std::move(tensor));
  return true;
}

bool Unpickler::callGlobal(const AllowedGlobal &callee,
                           std::span<PickleValue *const> args,
                           PickleValue *&result) {
  auto wrongArgs = [&](std::string_view expected) {
    return fail(fmt::format("{} takes {}", quoteName(callee.name), expected));
  };
  switch (callee.kind) {
  case GlobalKind::OrderedDict:
    if (!args.empty())
      return wrongArgs("no arguments here");
    result = make(Kind::Dict);
    return true;
  case GlobalKind::Size: {
    if (args.size() != 1 || args[0]->kind != Kind::Tuple)
      return wrongArgs("one tuple");
    result = make(Kind::Tuple);
    result->items = args[0]->items;
    return true;
  }
  case GlobalKind::Device:
  case GlobalKind::Layout:
    result = make(Kind::Opaque);
    result->text = callee.name;
    return true;
  case GlobalKind::CodecsEncode:
    if (args.size() != 2 || args[0]->kind != Kind::String ||
        args[1]->kind != Kind::String)
      return wrongArgs("two strings");
    result = make(Kind::Bytes);
    result->text = args[0]->text;
    return true;
  case GlobalKind::RebuildTensorV2:
  case GlobalKind::RebuildTensor:
    return rebuildTensor(callee, args, result);
  case GlobalKind::RebuildParameter:
  case GlobalKind::RebuildParameterWithState:
  case GlobalKind::Parameter:
    // Parameter(data, requires_grad), _rebuild_parameter(data,
    // requires_grad, hooks[, state]): the values are data's.
    if (args.empty() || args.size() > 4 || args[0]->kind != Kind::Tensor)
      return wrongArgs("a tensor first");
    result = args[0];
    return true;
  case GlobalKind::RebuildFromTypeV2: {
    // _rebuild_from_type_v2(func, new_type, args, state): a tensor rebuilt
    // by func, of class new_type, with Python attributes in state.
    if (args.size() != 4 || args[2]->kind != Kind::Tuple)
      return wrongArgs("(function, class, tuple, state)");
    const AllowedGlobal *func = globalOf(args[0]);
    const AllowedGlobal *type = globalOf(args[1]);
    bool tensorFunc =
        func && (func->kind == GlobalKind::RebuildTensorV2 ||
                 func->kind == GlobalKind::RebuildTensor ||
                 func->kind == GlobalKind::RebuildParameter ||
                 func->kind == GlobalKind::RebuildParameterWithState);
    bool tensorType = type && (type->kind == GlobalKind::TensorClass ||
                               type->kind == GlobalKind::Parameter);
    if (!tensorFunc || !tensorType)
      return wrongArgs("a tensor rebuild function and torch.Tensor or "
                       "Parameter");
    return callGlobal(*func, args[2]->items, result);
  }
  case GlobalKind::TensorClass:
  case GlobalKind::Dtype:
  case GlobalKind::Storage:
    return fail(fmt::format("{} cannot be called", quoteName(callee.name)));
  }
  return fail("unknown global");
}

} // namespace

const char *describePickleKind(PickleValue::Kind kind) {
  switch (kind) {
  case Kind::None:
    return "None";
  case Kind::Bool:
    return "a bool";
  case Kind::Int:
    return "an int";
  case Kind::BigInt:
    return "an int beyond 64 bits";
  case Kind::Float:
    return "a float";
  case Kind::String:
    return "a string";
  case Kind::Bytes:
    return "bytes";
  case Kind::Tuple:
    return "a tuple";
  case Kind::List:
    return "a list";
  case Kind::Dict:
    return "a dict";
  case Kind::Set:
    return "a set";
  case Kind::Global:
    return "a class or function";
  case Kind::Storage:
    return "a storage";
  case Kind::Tensor:
    return "a tensor";
  case Kind::Opaque:
    return "an object";
  }
  return "a value";
}

std::unique_ptr<UnpickledData> unpickleTorchData(std::string_view pickle,
                                                 std::string_view displayName,
                                                 DiagnosticEngine &diag) {
  auto data = std::make_unique<UnpickledData>();
  Unpickler unpickler(pickle, displayName, diag, *data);
  if (!unpickler.run())
    return nullptr;
  return data;
}

} // namespace seqc
