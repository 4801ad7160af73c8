//===- CpuAotTest.cpp - Objects and headers linked into a C program -------===//
//
// Compiles two different models to objects (one wrapped in a static
// library), links both into one plain C program with the system C compiler
// (no -lm, no runtime), runs it on several batches and compares with the
// reference. Also checks that the objects reference nothing beyond
// memcpy/memset/memmove and carry no writable data.
//
//===----------------------------------------------------------------------===//

#include "compiler/codegen/cpu/CpuBackend.h"
#include "compiler/reference/Interpreter.h"
#include "compiler/support/FileIO.h"
#include "tests/cpu/JitChecks.h"
#include "tests/cpu/TestModels.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

using namespace seqc;
using namespace seqc::codegen::cpu;
namespace fs = std::filesystem;

namespace {

const fs::path workDir = SEQC_TEST_WORKDIR;

void writeBytes(const fs::path &path, const void *data, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char *>(data),
            static_cast<std::streamsize>(size));
  REQUIRE(out.good());
}

std::string readText(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string capture(const std::string &cmd) {
  std::string out;
  FILE *pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  CHECK(pclose(pipe) == 0);
  return out;
}

void compileModel(const ir::Model &model, const std::string &prefix,
                  bool staticLib, const std::string &triple,
                  const std::string &cpu,
                  codegen::Precision precision = codegen::Precision::F32) {
  CpuTargetOptions opts;
  opts.prefix = prefix;
  opts.triple = triple;
  opts.cpu = cpu;
  opts.precision = precision;
  std::string object, error;
  INFO(error);
  REQUIRE(generate(model, opts, OutputKind::Object, object, error));
  writeBytes(workDir / (prefix + ".o"), object.data(), object.size());
  std::string header = generateHeader(model, opts);
  writeBytes(workDir / (prefix + ".h"), header.data(), header.size());
  if (staticLib) {
    std::string archive;
    REQUIRE(makeStaticLibrary(object, prefix + ".o", archive, error));
    writeBytes(workDir / ("lib" + prefix + ".a"), archive.data(),
               archive.size());
  }
}

const char *kMain = R"(#include "alpha.h"
#include "beta.h"
#include <stdio.h>
#include <stdlib.h>

/* A parallel-for that runs the items back to front, one at a time. */
static void reverse_for(void *pool, size_t count, alpha_task_fn task, void *ctx) {
  (void)pool;
  while (count > 0) { task(ctx, count - 1, count); --count; }
}

static float *read_floats(const char *path, size_t n) {
  float *p = malloc(n * sizeof(float) + 1);
  FILE *f = fopen(path, "rb");
  if (!p || !f || fread(p, sizeof(float), n, f) != n) exit(3);
  fclose(f);
  return p;
}

static void write_floats(const char *path, const float *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, sizeof(float), n, f) != n) exit(4);
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  size_t batch = (size_t)strtoull(argv[1], NULL, 10);
  float *ain = read_floats("alpha_in.bin", batch * ALPHA_INPUT_FEATURES);
  float *bin = read_floats("beta_in.bin", batch * BETA_INPUT_FEATURES);
  float *aout = malloc(batch * ALPHA_OUTPUT_FEATURES * sizeof(float) + 1);
  float *aout2 = malloc(batch * ALPHA_OUTPUT_FEATURES * sizeof(float) + 1);
  float *bout = malloc(batch * BETA_OUTPUT_FEATURES * sizeof(float) + 1);
  void *ascratch = malloc(alpha_scratch_bytes(batch) + 1);
  void *bscratch = malloc(beta_scratch_bytes(batch) + 1);
  if (alpha_run(ain, aout, batch, ascratch) != ALPHA_OK) return 5;
  if (alpha_run_parallel(ain, aout2, batch, ascratch, reverse_for, NULL) != ALPHA_OK) return 6;
  for (size_t i = 0; i < batch * ALPHA_OUTPUT_FEATURES; ++i)
    if (aout[i] != aout2[i]) return 7;
  if (beta_run(bin, bout, batch, bscratch) != BETA_OK) return 8;
  if (batch > 0 && alpha_run(NULL, aout, batch, ascratch) != ALPHA_ERROR_NULL_POINTER) return 9;
  write_floats("alpha_out.bin", aout, batch * ALPHA_OUTPUT_FEATURES);
  write_floats("beta_out.bin", bout, batch * BETA_OUTPUT_FEATURES);
  return 0;
}
)";

const char *kExternalMain = R"(#include "ext.h"
#include "Weights.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reverse_for(void *pool, size_t count, ext_task_fn task, void *ctx) {
  (void)pool;
  while (count > 0) { task(ctx, count - 1, count); --count; }
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  size_t batch = (size_t)strtoull(argv[1], NULL, 10);
  size_t bytes, otherBytes;
  const void *w = seqc_weights_map(argv[2], &bytes);
  const void *other = seqc_weights_map(argv[3], &otherBytes);
  if (!w || !other || seqc_weights_map("no/such/file", &otherBytes)) return 3;
  size_t n = batch * EXT_INPUT_FEATURES;
  float *in = malloc(n * sizeof(float) + 1);
  float *out = malloc(batch * EXT_OUTPUT_FEATURES * sizeof(float) + 1);
  float *out2 = malloc(batch * EXT_OUTPUT_FEATURES * sizeof(float) + 1);
  void *scratch = malloc(ext_scratch_bytes(batch) + 1);
  FILE *f = fopen("ext_in.bin", "rb");
  if (!in || !f || fread(in, sizeof(float), n, f) != n) return 4;
  fclose(f);
  /* The checks: size, NULL, another model's file, misalignment, a changed
     fingerprint; run refuses what check_weights refuses. */
  if (bytes != EXT_WEIGHTS_BYTES) return 10;
  if (ext_check_weights(w, bytes) != EXT_OK) return 11;
  if (ext_check_weights(w, bytes - 64) != EXT_ERROR_BAD_WEIGHTS) return 12;
  if (ext_check_weights(NULL, bytes) != EXT_ERROR_BAD_WEIGHTS) return 13;
  if (ext_run(NULL, in, out, batch, scratch) != EXT_ERROR_BAD_WEIGHTS) return 14;
  if (ext_check_weights(other, otherBytes) != EXT_ERROR_BAD_WEIGHTS) return 15;
  if (ext_run(other, in, out, batch, scratch) != EXT_ERROR_BAD_WEIGHTS) return 16;
  unsigned char *copy = aligned_alloc(64, bytes + 64);
  if (!copy) return 5;
  memcpy(copy + 32, w, bytes);
  if (ext_check_weights(copy + 32, bytes) != EXT_ERROR_BAD_WEIGHTS) return 17;
  if (ext_run(copy + 32, in, out, batch, scratch) != EXT_ERROR_BAD_WEIGHTS) return 18;
  memcpy(copy, w, bytes);
  copy[9] ^= 1;
  if (ext_check_weights(copy, bytes) != EXT_ERROR_BAD_WEIGHTS) return 19;
  if (ext_run_parallel(copy, in, out, batch, scratch, reverse_for, NULL) !=
      EXT_ERROR_BAD_WEIGHTS) return 20;
  copy[9] ^= 1;
  if (ext_check_weights(copy, bytes) != EXT_OK) return 21;
  /* The run, from the mapping and from the copy, serial and parallel. */
  if (ext_run(w, in, out, batch, scratch) != EXT_OK) return 22;
  if (ext_run_parallel(copy, in, out2, batch, scratch, reverse_for, NULL) != EXT_OK)
    return 23;
  for (size_t i = 0; i < batch * EXT_OUTPUT_FEATURES; ++i)
    if (out[i] != out2[i]) return 24;
  /* seqc_weights_load: the same bytes, 2 MiB aligned, the same results;
     missing files and directories are refused. */
  size_t loadedBytes = 1;
  if (seqc_weights_load("no/such/file", &loadedBytes) || loadedBytes != 0)
    return 25;
  if (seqc_weights_load(".", &loadedBytes) || loadedBytes != 0) return 26;
  const void *loaded = seqc_weights_load(argv[2], &loadedBytes);
  if (!loaded || loadedBytes != bytes || (uintptr_t)loaded % (2u << 20) != 0 ||
      memcmp(loaded, w, bytes) != 0) return 27;
  if (ext_run_parallel(loaded, in, out2, batch, scratch, reverse_for, NULL) !=
      EXT_OK) return 28;
  for (size_t i = 0; i < batch * EXT_OUTPUT_FEATURES; ++i)
    if (out[i] != out2[i]) return 29;
  seqc_weights_free(loaded, loadedBytes);
  f = fopen("ext_out.bin", "wb");
  if (!f || fwrite(out, sizeof(float), batch * EXT_OUTPUT_FEATURES, f) !=
                batch * EXT_OUTPUT_FEATURES) return 6;
  fclose(f);
  seqc_weights_unmap(w, bytes);
  seqc_weights_unmap(other, otherBytes);
  free(copy);
  return 0;
}
)";

} // namespace

/// Compiles two models for \p triple, links them into one C program with
/// \p cc and runs it (through \p runner, e.g. qemu) on several batches;
/// in \p precision, checked against the reference's simulation of it.
void runScenario(const std::string &triple, const std::string &cc,
                 const std::string &ccFlags, const std::string &runner,
                 const std::string &cpu = "",
                 codegen::Precision precision = codegen::Precision::F32) {
  fs::remove_all(workDir);
  fs::create_directories(workDir);
  test::ModelBuilder alpha(64, 21);
  alpha.dense(33, {ir::ActKind::ReLU, 0, 0});
  alpha.layerNorm(true);
  alpha.dense(10, {ir::ActKind::None, 0, 0}, true, ir::RowNorm::Softmax);
  test::ModelBuilder beta(3, 22);
  beta.dense(4, {ir::ActKind::Tanh, 0, 0});
  beta.dense(2, {ir::ActKind::GELU, 0, 0});
  compileModel(alpha.model, "alpha", false, triple, cpu, precision);
  compileModel(beta.model, "beta", true, triple, cpu, precision);
  writeBytes(workDir / "main.c", kMain, std::strlen(kMain));

  // Nothing beyond memcpy/memset/memmove, and no writable data.
  for (const char *obj : {"alpha.o", "beta.o"}) {
    std::string undefined = capture("nm -u " + (workDir / obj).string());
    std::istringstream lines(undefined);
    std::string type, name;
    while (lines >> type >> name) {
      INFO(obj << " needs " << name);
      CHECK((name == "memcpy" || name == "memset" || name == "memmove"));
    }
    std::string sections = capture("size -A " + (workDir / obj).string());
    std::istringstream secLines(sections);
    std::string line;
    while (std::getline(secLines, line)) {
      std::istringstream fields(line);
      std::string sec;
      uint64_t size = 0;
      fields >> sec >> size;
      if (sec.rfind(".data", 0) == 0 || sec.rfind(".bss", 0) == 0) {
        INFO(obj << " has writable section " << sec);
        CHECK(size == 0);
      }
    }
    std::string defined =
        capture("nm -g --defined-only " + (workDir / obj).string());
    std::string prefix = std::string(obj).substr(0, std::string(obj).find('.'));
    std::istringstream defs(defined);
    std::string addr;
    while (defs >> addr >> type >> name) {
      INFO(obj << " exports " << name);
      CHECK(name.rfind(prefix + "_", 0) == 0);
    }
  }
  std::string header = readText(workDir / "alpha.h");
  CHECK(header.find("size_t alpha_scratch_bytes(size_t batch);") !=
        std::string::npos);

  std::string build = "cd " + workDir.string() + " && " + cc + " " + ccFlags +
                      " -std=c99 -Wall -Wextra -Werror -pedantic -o app main.c "
                      "alpha.o -L. -lbeta 2>&1";
  INFO(build);
  CHECK(capture(build).empty());

  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (uint64_t batch : {0u, 1u, 7u, 1000u, 4099u}) {
    std::vector<float> ain(batch * 64), bin(batch * 3);
    for (float &v : ain)
      v = dist(rng);
    for (float &v : bin)
      v = dist(rng);
    writeBytes(workDir / "alpha_in.bin", ain.data(), ain.size() * 4);
    writeBytes(workDir / "beta_in.bin", bin.data(), bin.size() * 4);
    int status = std::system(("cd " + workDir.string() + " && " + runner +
                              "./app " + std::to_string(batch))
                                 .c_str());
    INFO("batch " << batch);
    REQUIRE(status == 0);
    std::string aout = readText(workDir / "alpha_out.bin");
    std::string bout = readText(workDir / "beta_out.bin");
    REQUIRE(aout.size() == batch * 10 * 4);
    REQUIRE(bout.size() == batch * 2 * 4);
    std::vector<float> a(batch * 10), bv(batch * 2);
    if (batch != 0) { // memcpy from an empty vector's null data is UB
      std::memcpy(a.data(), aout.data(), aout.size());
      std::memcpy(bv.data(), bout.data(), bout.size());
    }
    // bf16 rounds a later layer's inputs, which the code and the reference
    // may round apart at a tie (CpuPrecisionTest): 5e-3.
    double tol = precision == codegen::Precision::BF16 ? 5e-3 : 1e-4;
    CHECK(test::scaledError(a, reference::run(alpha.model,
                                              test::toMatrix(ain, batch, 64),
                                              nullptr, precision)) <= tol);
    CHECK(test::scaledError(bv, reference::run(beta.model,
                                               test::toMatrix(bin, batch, 3),
                                               nullptr, precision)) <= tol);
  }
}

bool haveProgram(const std::string &name) {
  return std::system(("command -v " + name + " > /dev/null 2>&1").c_str()) == 0;
}

TEST_CASE("two compiled models link into one C program") {
  runScenario("", SEQC_TEST_CC, "", "");
}

TEST_CASE("bf16, int8 and int8w models link into one C program") {
  for (codegen::Precision precision :
       {codegen::Precision::BF16, codegen::Precision::Int8,
        codegen::Precision::Int8W}) {
    INFO(codegen::precisionName(precision));
    runScenario("", SEQC_TEST_CC, "", "", "", precision);
    std::string header = readText(workDir / "alpha.h");
    CHECK(header.find(std::string(" * Precision: ") +
                      codegen::precisionName(precision)) != std::string::npos);
    // int8 states the stack its quantised rows take (64 KiB a layer).
    CHECK((header.find("Quantised rows on the stack: up to 131072 bytes") !=
           std::string::npos) == (precision == codegen::Precision::Int8));
  }
}

#if defined(__x86_64__)
TEST_CASE("a multiversioned object picks its variant by CPUID") {
  // The host runs at least x86-64-v2; the ifunc resolver must pick a variant
  // it supports (v4 only where AVX-512 is there) and compute the same result.
  runScenario("", SEQC_TEST_CC, "", "", "x86-64-v2,x86-64-v3,x86-64-v4");
  std::string header = readText(workDir / "alpha.h");
  CHECK(header.find("ALPHA_ERROR_UNSUPPORTED_CPU (-4)") != std::string::npos);
}

TEST_CASE("a multiversioned int8 object picks its variant by CPUID") {
  // The last variant uses vpdpbusd; its resolver checks AVX512_VNNI, so a
  // host without it runs the x86-64-v4 or v3 one.
  runScenario("", SEQC_TEST_CC, "", "", "x86-64-v3,x86-64-v4,sapphirerapids",
              codegen::Precision::Int8);
}
#endif

TEST_CASE("aarch64 objects link with the cross gcc and run under qemu") {
  if (!haveProgram("aarch64-linux-gnu-gcc") || !haveProgram("qemu-aarch64")) {
    MESSAGE("skipped: needs aarch64-linux-gnu-gcc and qemu-aarch64 "
            "(apt-get install gcc-aarch64-linux-gnu qemu-user)");
    return;
  }
  runScenario("aarch64-linux-gnu", "aarch64-linux-gnu-gcc", "-static",
              "qemu-aarch64 ");
  // int8's generic integer vectors on NEON.
  runScenario("aarch64-linux-gnu", "aarch64-linux-gnu-gcc", "-static",
              "qemu-aarch64 ", "", codegen::Precision::Int8);
}

#ifdef SEQC_TEST_RUNTIME_DIR
/// External weights through the C ABI: an app maps PREFIX.weights with the
/// runtime, the entry points check what they are given, and the object
/// compiled for one set of weights runs another (retrained) set.
void runExternalScenario(const std::string &cpu) {
  fs::remove_all(workDir);
  fs::create_directories(workDir);
  auto model = [](uint32_t seed, ir::ActKind act) {
    test::ModelBuilder mb(64, seed);
    mb.dense(33, {act, 0, 0});
    mb.layerNorm(true);
    mb.dense(10, {}, true, ir::RowNorm::Softmax);
    return mb;
  };
  test::ModelBuilder first = model(21, ir::ActKind::ReLU);
  test::ModelBuilder retrained = model(99, ir::ActKind::ReLU);
  test::ModelBuilder other = model(21, ir::ActKind::Tanh);
  auto compileExternal = [&](const ir::Model &m, const std::string &name) {
    std::string weights;
    std::string object =
        test::generateExternal(m, "ext", cpu, OutputKind::Object, weights);
    writeBytes(workDir / (name + ".o"), object.data(), object.size());
    writeBytes(workDir / (name + ".weights"), weights.data(), weights.size());
    CpuTargetOptions opts;
    opts.prefix = "ext";
    opts.cpu = cpu;
    opts.externalWeights = true;
    std::string header = generateHeader(m, opts, weights.size());
    writeBytes(workDir / (name + ".h"), header.data(), header.size());
    return object;
  };
  std::string object = compileExternal(first.model, "ext");
  CHECK(compileExternal(retrained.model, "retrained") == object);
  compileExternal(other.model, "other");
  // Still nothing beyond memcpy/memset/memmove, and no parameters at all
  // in the object: far smaller than the weights.
  std::string undefined = capture("nm -u " + (workDir / "ext.o").string());
  std::istringstream lines(undefined);
  std::string type, name;
  while (lines >> type >> name) {
    INFO("ext.o needs " << name);
    CHECK((name == "memcpy" || name == "memset" || name == "memmove"));
  }
  CHECK(fs::file_size(workDir / "ext.weights") > 64 * 33 * 4);
  writeBytes(workDir / "main.c", kExternalMain, std::strlen(kExternalMain));
  // The runtime's Weights.c from source: the library itself may be built
  // with sanitizers that a plain cc link lacks.
  std::string build =
      "cd " + workDir.string() +
      " && " SEQC_TEST_CC
      " -std=c11 -Wall -Wextra -Werror -pedantic -I" SEQC_TEST_RUNTIME_DIR
      " -o app main.c ext.o " SEQC_TEST_RUNTIME_DIR "/Weights.c 2>&1";
  INFO(build);
  CHECK(capture(build).empty());

  std::mt19937 rng(8);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (uint64_t batch : {0u, 1u, 7u, 1000u}) {
    std::vector<float> in(batch * 64);
    for (float &v : in)
      v = dist(rng);
    writeBytes(workDir / "ext_in.bin", in.data(), in.size() * 4);
    for (const test::ModelBuilder *m : {&first, &retrained}) {
      std::string weights = m == &first ? "ext.weights" : "retrained.weights";
      int status =
          std::system(("cd " + workDir.string() + " && ./app " +
                       std::to_string(batch) + " " + weights + " other.weights")
                          .c_str());
      INFO("batch " << batch << " weights " << weights);
      REQUIRE(status == 0);
      std::string out = readText(workDir / "ext_out.bin");
      REQUIRE(out.size() == batch * 10 * 4);
      std::vector<float> got(batch * 10);
      if (batch != 0)
        std::memcpy(got.data(), out.data(), out.size());
      CHECK(test::scaledError(
                got, reference::run(m->model, test::toMatrix(in, batch, 64))) <=
            1e-4);
    }
  }
}

TEST_CASE("external weights: an app maps PREFIX.weights with the runtime") {
  runExternalScenario("");
}

#if defined(__x86_64__)
TEST_CASE("external weights: a multiversioned object reads one blob") {
  runExternalScenario("x86-64-v2,x86-64-v3,x86-64-v4");
}
#endif
#endif

TEST_CASE("objects written straight to their file match the in-memory ones") {
  test::ModelBuilder mb(13, 5);
  mb.dense(40, {ir::ActKind::Tanh, 0, 0});
  mb.dense(3, {});
  CpuTargetOptions opts;
  opts.prefix = "streamed";
  std::string inMemory, error;
  REQUIRE(generate(mb.model, opts, OutputKind::Object, inMemory, error));
  fs::path path = workDir / "streamed.o";
  fs::remove(path);
  {
    AtomicFile file;
    REQUIRE(file.open(path.string(), error));
    bool writeFailed = true;
    INFO(error);
    REQUIRE(generateObjectFile(mb.model, opts, file.fd(), path.string(), error,
                               writeFailed));
    CHECK_FALSE(writeFailed);
    // Not there before the commit...
    CHECK_FALSE(fs::exists(path));
    REQUIRE(file.commit(error));
  }
  CHECK(readText(path) == inMemory);
  // ...and an output never committed leaves nothing behind.
  fs::path dropped = workDir / "dropped.o";
  auto leftovers = [&] {
    std::vector<fs::path> found;
    for (const fs::directory_entry &e : fs::directory_iterator(workDir))
      if (e.path().filename().string().rfind("dropped.o", 0) == 0)
        found.push_back(e.path());
    return found;
  };
  for (const fs::path &p : leftovers())
    fs::remove(p);
  {
    AtomicFile file;
    REQUIRE(file.open(dropped.string(), error));
    REQUIRE(file.write("partial", error));
  }
  CHECK(leftovers().empty());
  // A write that fails is the environment's failure, named by its path.
  int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (full >= 0) {
    bool writeFailed = false;
    CHECK_FALSE(
        generateObjectFile(mb.model, opts, full, "out.o", error, writeFailed));
    CHECK(writeFailed);
    CHECK(error.rfind("cannot write 'out.o': ", 0) == 0);
    ::close(full);
  }
}
