//===- CsvTest.cpp - Tests for the CSV reader and readTensorFile ----------===//

#include "frontend/Csv.h"
#include "compiler/support/Diagnostics.h"
#include "compiler/support/FileIO.h"
#include "compiler/support/SourceManager.h"
#include "frontend/Npy.h"
#include "frontend/TensorFile.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

using namespace seqc;

namespace {

struct Parsed {
  std::optional<Tensor> tensor;
  std::string diagnostics;
};

Parsed parse(std::string text) {
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  Parsed result;
  diag.captureTo(&result.diagnostics);
  uint32_t id = sourceMgr.addBuffer("in.csv", std::move(text));
  result.tensor = parseCsv(id, sourceMgr, diag);
  CHECK(diag.getNumErrors() == (result.tensor ? 0u : 1u));
  return result;
}

void expectError(std::string text, std::string_view expected) {
  Parsed result = parse(std::move(text));
  CHECK_FALSE(result.tensor.has_value());
  CHECK(result.diagnostics == expected);
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

std::string tempPath(std::string_view name) {
  return (std::filesystem::temp_directory_path() /
          ("seqc-csv-test-" + std::to_string(::getpid()) + "-" +
           std::string(name)))
      .string();
}

std::filesystem::path dataDir() {
  return std::filesystem::path(SEQC_SOURCE_DIR) / "tests" / "data";
}

} // namespace

//===----------------------------------------------------------------------===//
// Valid files
//===----------------------------------------------------------------------===//

TEST_CASE("rows of numbers") {
  Parsed result = parse("1,2\n2,3\n10,5\n");
  CHECK(result.diagnostics.empty());
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{3, 2});
  CHECK(result.tensor->data == std::vector<float>{1, 2, 2, 3, 10, 5});
}

TEST_CASE("spacing, blank lines, comments, CRLF and a missing last newline") {
  Parsed result = parse("# the lecture's input\r\n\r\n  1.0 ,\t-2.5\r\n"
                        "   \t\n# another comment\n  # indented comment\n"
                        "+3e2,.5");
  CHECK(result.diagnostics.empty());
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{2, 2});
  CHECK(result.tensor->data == std::vector<float>{1.0f, -2.5f, 300.0f, 0.5f});
}

TEST_CASE("a header row is skipped only as the first row") {
  Parsed result = parse("# comment first\n\nx1, x2 ,\"label\"\n1,2,3\n");
  CHECK(result.diagnostics.empty());
  REQUIRE(result.tensor);
  CHECK(result.tensor->shape == std::vector<int64_t>{1, 3});
  CHECK(result.tensor->data == std::vector<float>{1, 2, 3});
}

TEST_CASE("nan and infinities in any case") {
  Parsed result = parse("nan,NaN,inf,-inf\nINF,-Inf,+inf,Infinity\n");
  CHECK(result.diagnostics.empty());
  REQUIRE(result.tensor);
  const std::vector<float> &d = result.tensor->data;
  CHECK(std::isnan(d[0]));
  CHECK(std::isnan(d[1]));
  float inf = std::numeric_limits<float>::infinity();
  CHECK(d[2] == inf);
  CHECK(d[3] == -inf);
  CHECK(d[4] == inf);
  CHECK(d[5] == -inf);
  CHECK(d[6] == inf);
  CHECK(d[7] == inf);
}

TEST_CASE("decimal text is rounded correctly to float32") {
  Parsed result = parse("0.1,16777217,1e-40,1e-50,-1e-50,3.4028235e38\n");
  REQUIRE(result.tensor);
  std::vector<uint32_t> bits;
  for (float f : result.tensor->data)
    bits.push_back(bitsOf(f));
  CHECK(bits == std::vector<uint32_t>{0x3dcccccd, 0x4b800000, 0x000116c2,
                                      0x00000000, 0x80000000, 0x7f7fffff});
}

TEST_CASE("a UTF-8 byte order mark is skipped") {
  Parsed result = parse("\xEF\xBB\xBF"
                        "a,b\n1,2\n");
  REQUIRE(result.tensor);
  CHECK(result.tensor->data == std::vector<float>{1, 2});
  result = parse("\xEF\xBB\xBF"
                 "1,2\n");
  REQUIRE(result.tensor);
  CHECK(result.tensor->data == std::vector<float>{1, 2});
}

//===----------------------------------------------------------------------===//
// Must-fail files
//===----------------------------------------------------------------------===//

TEST_CASE("a word where a number belongs points at the field") {
  expectError("1,2\n1.0, abc\n", "in.csv:2:6: error: 'abc' is not a number\n"
                                 "  1.0, abc\n"
                                 "       ^~~\n");
  expectError("1,2\n1 2,3\n", "in.csv:2:1: error: '1 2' is not a number\n"
                              "  1 2,3\n"
                              "  ^~~\n");
  expectError("1,2\n1,0x10\n", "in.csv:2:3: error: '0x10' is not a number\n"
                               "  1,0x10\n"
                               "    ^~~~\n");
  expectError("1,2\n1,nan(1)\n", "in.csv:2:3: error: 'nan(1)' is not a "
                                 "number\n"
                                 "  1,nan(1)\n"
                                 "    ^~~~~~\n");
  expectError("1,2 # note\n", "in.csv:1:3: error: '2 # note' is not a "
                              "number\n"
                              "  1,2 # note\n"
                              "    ^~~~~~~~\n");
  expectError("1,1e\n", "in.csv:1:3: error: '1e' is not a number\n"
                        "  1,1e\n"
                        "    ^~\n");
}

TEST_CASE("a header row that mixes words and numbers is an error") {
  expectError("x, 2\n1, 2\n", "in.csv:1:1: error: 'x' is not a number\n"
                              "  x, 2\n"
                              "  ^\n");
}

TEST_CASE("a header row after the first row is an error") {
  expectError("1,2\nx,y\n", "in.csv:2:1: error: 'x' is not a number\n"
                            "  x,y\n"
                            "  ^\n");
}

TEST_CASE("empty fields are errors") {
  expectError("1,,3\n", "in.csv:1:3: error: empty field\n"
                        "  1,,3\n"
                        "    ^\n");
  expectError("1,2,\n", "in.csv:1:5: error: empty field\n"
                        "  1,2,\n"
                        "      ^\n");
  expectError(",1\n", "in.csv:1:1: error: empty field\n"
                      "  ,1\n"
                      "  ^\n");
}

TEST_CASE("ragged rows point at the row") {
  expectError("1,2\n3,4\n  5,6,7\n", "in.csv:3:3: error: row has 3 values, "
                                     "but the first row has 2\n"
                                     "    5,6,7\n"
                                     "    ^~~~~\n");
  expectError("1,2\n3\n", "in.csv:2:1: error: row has 1 value, but the first "
                          "row has 2\n"
                          "  3\n"
                          "  ^\n");
}

TEST_CASE("a header with a different column count is an error") {
  expectError("a,b,c\n1,2\n", "in.csv:2:1: error: row has 2 values, but the "
                              "header names 3 columns\n"
                              "  1,2\n"
                              "  ^~~\n");
}

TEST_CASE("numbers beyond float32 are errors") {
  expectError("1,1e39\n", "in.csv:1:3: error: 1e39 is out of the float32 "
                          "range\n"
                          "  1,1e39\n"
                          "    ^~~~\n");
  expectError("-3.5e38\n", "in.csv:1:1: error: -3.5e38 is out of the float32 "
                           "range\n"
                           "  -3.5e38\n"
                           "  ^~~~~~~\n");
  expectError("1" + std::string(400, '0') + "\n",
              "in.csv:1:1: error: " + std::string("1") + std::string(39, '0') +
                  "... is out of the float32 range\n"
                  "  " +
                  "1" + std::string(159, '0') + "\n  ^" +
                  std::string(159, '~') + "\n");
}

TEST_CASE("files without data rows are errors") {
  expectError("", "in.csv: error: no data rows\n");
  expectError("\n# only a comment\n  \n", "in.csv: error: no data rows\n");
  expectError("x,y\n", "in.csv: error: no data rows after the header\n");
}

TEST_CASE("control characters are not echoed") {
  expectError("1,\x1b[2J\n", "in.csv:1:3: error: '?[2J' is not a number\n"
                             "  1,?[2J\n"
                             "    ^~~~\n");
}

//===----------------------------------------------------------------------===//
// Files and readTensorFile
//===----------------------------------------------------------------------===//

TEST_CASE("readCsv registers the file for diagnostics") {
  std::string path = tempPath("in.csv");
  std::string error;
  REQUIRE(writeFileAtomic(path, "1,2\n3,x\n", error));
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  CHECK_FALSE(readCsv(path, sourceMgr, diag));
  std::filesystem::remove(path);
  CHECK(out == path + ":2:3: error: 'x' is not a number\n  3,x\n    ^\n");
  out.clear();
  CHECK_FALSE(readCsv("/nonexistent/in.csv", sourceMgr, diag));
  CHECK(out == "seqc: error: cannot open '/nonexistent/in.csv': No such file "
               "or directory\n");
}

TEST_CASE("readTensorFile picks the reader by extension") {
  std::string npy = tempPath("x.NPY");
  std::string csv = tempPath("x.Csv");
  std::string txt = tempPath("x.txt");
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  std::string error;
  REQUIRE(writeNpy(npy, Tensor({1, 2}, {1.5f, 2.5f}), diag));
  REQUIRE(writeFileAtomic(csv, "a,b\n1.5,2.5\n", error));
  REQUIRE(writeFileAtomic(txt, "1.5,2.5\n", error));

  std::optional<Tensor> fromNpy = readTensorFile(npy, sourceMgr, diag);
  std::optional<Tensor> fromCsv = readTensorFile(csv, sourceMgr, diag);
  std::optional<Tensor> fromTxt = readTensorFile(txt, sourceMgr, diag);
  std::filesystem::remove(npy);
  std::filesystem::remove(csv);
  std::filesystem::remove(txt);
  REQUIRE(fromNpy);
  REQUIRE(fromCsv);
  CHECK(fromNpy->shape == fromCsv->shape);
  CHECK(fromNpy->data == fromCsv->data);
  CHECK_FALSE(fromTxt);
  CHECK(out == txt + ": error: unsupported input file type; expected a NumPy "
                     ".npy file or a .csv file\n");

  // A file of the wrong kind fails in its reader, with the reader's message.
  out.clear();
  CHECK_FALSE(readTensorFile(
      (dataDir() / "inputs" / "x_2x2.csv").string() + ".npy", sourceMgr, diag));
  CHECK(out.find("cannot open") != std::string::npos);
}

TEST_CASE("checked-in sample CSV files") {
  std::filesystem::path dir = dataDir() / "inputs";
  SourceManager sourceMgr;
  DiagnosticEngine diag(sourceMgr);
  std::string out;
  diag.captureTo(&out);
  std::optional<Tensor> x =
      readCsv((dir / "x_2x2.csv").string(), sourceMgr, diag);
  REQUIRE(x);
  CHECK(x->shape == std::vector<int64_t>{2, 2});
  CHECK(x->data == std::vector<float>{1, 2, 2, 3});
  x = readCsv((dir / "x_header.csv").string(), sourceMgr, diag);
  REQUIRE(x);
  CHECK(x->shape == std::vector<int64_t>{3, 2});
  CHECK(x->data == std::vector<float>{1, 2, 2, 3, 10, 5});
  // The same data as .npy reads identically.
  std::optional<Tensor> npy =
      readTensorFile((dir / "x_2x2.npy").string(), sourceMgr, diag);
  REQUIRE(npy);
  CHECK(npy->data == std::vector<float>{1, 2, 2, 3});
  CHECK(out.empty());
  for (const char *name : {"bad_ragged.csv", "bad_word.csv"}) {
    CAPTURE(name);
    out.clear();
    CHECK_FALSE(readCsv((dir / name).string(), sourceMgr, diag));
    CHECK(out.find(":2:") != std::string::npos);
  }
}
