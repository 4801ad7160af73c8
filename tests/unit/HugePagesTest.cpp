//===- HugePagesTest.cpp - support/HugePages: buffers and collapses -------===//
//
// Part of seqc. HugePageBuffer gives zeroed, aligned memory that keeps what
// is written to it, also across moves; collapseToHugePages keeps the
// contents, reports only whole 2 MiB pages and leaves smaller ranges alone.
// Whether the kernel grants huge pages depends on the machine: where its
// sysfs switch allows them, a collapse must report them.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/HugePages.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include <sys/utsname.h>

using namespace seqc;

namespace {

/// Linux 6.1 or later (MADV_COLLAPSE) with transparent huge pages not
/// switched off.
bool kernelOffersHugePages() {
  struct utsname u;
  unsigned major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%u.%u", &major, &minor) != 2 ||
      major < 6 || (major == 6 && minor < 1))
    return false;
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(in, line) && line.find("[never]") == std::string::npos;
}

uint64_t pattern(uint64_t i) { return i * 0x9e3779b97f4a7c15ull >> 7; }

} // namespace

TEST_CASE("HugePageBuffer: aligned, zeroed, writable, movable") {
  for (uint64_t bytes : {uint64_t(64), uint64_t(4096) + 64, kHugePageBytes,
                         3 * kHugePageBytes + 4160}) {
    for (bool advise : {true, false}) {
      INFO("bytes " << bytes << " advised " << advise);
      HugePageBuffer buf(bytes, advise);
      REQUIRE(buf.data() != nullptr);
      CHECK(buf.size() == bytes);
      auto addr = reinterpret_cast<uintptr_t>(buf.data());
      CHECK(addr % 64 == 0);
      if (bytes >= kHugePageBytes)
        CHECK(addr % kHugePageBytes == 0);
      auto *words = static_cast<uint64_t *>(buf.data());
      uint64_t n = bytes / 8;
      bool zero = true;
      for (uint64_t i = 0; i < n; ++i)
        zero = zero && words[i] == 0;
      CHECK(zero);
      for (uint64_t i = 0; i < n; ++i)
        words[i] = pattern(i);
      HugePageBuffer moved(std::move(buf));
      CHECK(buf.data() == nullptr);
      CHECK(buf.size() == 0);
      CHECK(moved.data() == words);
      HugePageBuffer assigned;
      assigned = std::move(moved);
      REQUIRE(assigned.data() == words);
      bool kept = true;
      for (uint64_t i = 0; i < n; ++i)
        kept = kept && words[i] == pattern(i);
      CHECK(kept);
    }
  }
  HugePageBuffer none(0);
  CHECK(none.data() == nullptr);
  CHECK(none.size() == 0);
}

TEST_CASE("collapseToHugePages: whole 2 MiB pages, contents kept") {
  HugePageBuffer buf(5 * kHugePageBytes);
  REQUIRE(buf.data() != nullptr);
  auto *words = static_cast<uint64_t *>(buf.data());
  uint64_t n = buf.size() / 8;
  for (uint64_t i = 0; i < n; ++i)
    words[i] = pattern(i);
  auto *bytes = static_cast<char *>(buf.data());

  // Less than one whole page: nothing to do.
  CHECK(collapseToHugePages(nullptr, 8 * kHugePageBytes) == 0);
  CHECK(collapseToHugePages(bytes, kHugePageBytes - 4096) == 0);
  CHECK(collapseToHugePages(bytes + 4096, kHugePageBytes) == 0);

  // From 4 KiB in to 4 KiB before the end: the three whole pages inside.
  uint64_t got = collapseToHugePages(bytes + 4096, buf.size() - 2 * 4096);
  CHECK((got == 0 || got == 3 * kHugePageBytes));
  uint64_t all = collapseToHugePages(bytes, buf.size());
  CHECK((all == 0 || all == 5 * kHugePageBytes));
  if (kernelOffersHugePages()) {
    CHECK(got == 3 * kHugePageBytes);
    CHECK(all == 5 * kHugePageBytes);
  }
  bool kept = true;
  for (uint64_t i = 0; i < n; ++i)
    kept = kept && words[i] == pattern(i);
  CHECK(kept);
}
