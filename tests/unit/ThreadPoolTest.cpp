//===- ThreadPoolTest.cpp - runtime/ThreadPool: every item once, no hangs -===//
//
// Part of seqc. seqc_parallel_for hands out items dynamically; these tests
// check the contract generated code relies on: every item of [0, count) runs
// exactly once, on disjoint ranges, and all of them have finished (and their
// writes are visible) when the call returns -- for back-to-back calls,
// calls after the workers fell asleep, several callers at once and pools
// larger than the machine.
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Counts {
  std::vector<std::atomic<uint32_t>> hits;
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> badRanges{0};
  explicit Counts(size_t n) : hits(n) {}
};

void countItems(void *ctx, size_t begin, size_t end) {
  auto *c = static_cast<Counts *>(ctx);
  // No doctest assertions here: this runs on the pool's threads.
  if (begin >= end || end > c->hits.size()) {
    c->badRanges.fetch_add(1);
    return;
  }
  c->calls.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = begin; i < end; ++i)
    c->hits[i].fetch_add(1, std::memory_order_relaxed);
}

/// Plain (non-atomic) writes: the pool's return must publish them.
struct Plain {
  std::vector<uint64_t> values;
  uint64_t round = 0;
};

void writeItems(void *ctx, size_t begin, size_t end) {
  auto *p = static_cast<Plain *>(ctx);
  for (size_t i = begin; i < end; ++i)
    p->values[i] = p->round * 1000003 + i;
}

void checkOnce(seqc_thread_pool *pool, size_t count) {
  Counts c(count);
  seqc_parallel_for(pool, count, countItems, &c);
  REQUIRE(c.badRanges.load() == 0);
  for (size_t i = 0; i < count; ++i)
    REQUIRE(c.hits[i].load() == 1);
}

} // namespace

TEST_CASE("every item runs exactly once, for any count and pool size") {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    seqc_thread_pool *pool = seqc_thread_pool_create(threads);
    REQUIRE(pool != nullptr);
    CHECK(seqc_thread_pool_size(pool) == threads);
    for (size_t count :
         {size_t(0), size_t(1), size_t(2), size_t(3), size_t(7), size_t(16),
          size_t(17), size_t(100), size_t(1000), size_t(100003)})
      checkOnce(pool, count);
    seqc_thread_pool_destroy(pool);
  }
}

namespace {

/// The ranges one parallel-for handed out.
struct Ranges {
  std::mutex mutex;
  std::vector<std::pair<size_t, size_t>> seen;
};

void recordRange(void *ctx, size_t begin, size_t end) {
  auto *r = static_cast<Ranges *>(ctx);
  std::lock_guard<std::mutex> lock(r->mutex);
  r->seen.emplace_back(begin, end);
}

} // namespace

TEST_CASE("chunks are guided: 1 / (2 * threads) of what is left, at least 1") {
  // Whichever thread claims a chunk, its size follows from the items left,
  // so the ranges are the same in every run.
  for (unsigned threads : {2u, 3u, 8u}) {
    seqc_thread_pool *pool = seqc_thread_pool_create(threads);
    REQUIRE(pool != nullptr);
    for (size_t count : {size_t(2), size_t(5), size_t(72), size_t(100003)}) {
      Ranges r;
      seqc_parallel_for(pool, count, recordRange, &r);
      std::sort(r.seen.begin(), r.seen.end());
      INFO("threads " << threads << " count " << count);
      size_t begin = 0;
      for (const auto &[b, e] : r.seen) {
        REQUIRE(b == begin);
        size_t left = count - begin;
        CHECK(e - b == std::max<size_t>(1, left / (2 * threads)));
        begin = e;
      }
      CHECK(begin == count);
      // Few claims even for many items: about 2 * threads * ln(count).
      CHECK(r.seen.size() <= 2 * threads * 14 + 2 * threads);
    }
    seqc_thread_pool_destroy(pool);
  }
}

TEST_CASE("NULL pool runs serially as one range") {
  Counts c(10);
  seqc_parallel_for(nullptr, 10, countItems, &c);
  CHECK(c.calls.load() == 1);
  for (auto &h : c.hits)
    CHECK(h.load() == 1);
  seqc_thread_pool_destroy(nullptr);
  CHECK(seqc_thread_pool_size(nullptr) == 1);
}

TEST_CASE("back-to-back calls see each other's writes") {
  seqc_thread_pool *pool = seqc_thread_pool_create(4);
  REQUIRE(pool != nullptr);
  Plain p;
  p.values.assign(257, 0);
  for (uint64_t round = 1; round <= 5000; ++round) {
    p.round = round;
    seqc_parallel_for(pool, p.values.size(), writeItems, &p);
    // Read right after the return, on the calling thread.
    for (size_t i = 0; i < p.values.size(); i += 37)
      REQUIRE(p.values[i] == round * 1000003 + i);
  }
  seqc_thread_pool_destroy(pool);
}

TEST_CASE("calls after the workers went to sleep still complete") {
  seqc_thread_pool *pool = seqc_thread_pool_create(3);
  REQUIRE(pool != nullptr);
  for (int i = 0; i < 5; ++i) {
    // Longer than the workers' spin phase, so they wait on the condvar.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    checkOnce(pool, 64);
  }
  seqc_thread_pool_destroy(pool);
}

TEST_CASE("several callers at once are serialised") {
  seqc_thread_pool *pool = seqc_thread_pool_create(2);
  REQUIRE(pool != nullptr);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        size_t count = 1 + size_t(t * 131 + i) % 200;
        Counts c(count);
        seqc_parallel_for(pool, count, countItems, &c);
        if (c.badRanges.load() != 0)
          failures.fetch_add(1);
        for (auto &h : c.hits)
          if (h.load() != 1)
            failures.fetch_add(1);
      }
    });
  for (std::thread &t : callers)
    t.join();
  CHECK(failures.load() == 0);
  seqc_thread_pool_destroy(pool);
}

TEST_CASE("a pool is destroyed promptly whether its workers spin or sleep") {
  for (int sleepMs : {0, 30}) {
    seqc_thread_pool *pool = seqc_thread_pool_create(4);
    REQUIRE(pool != nullptr);
    checkOnce(pool, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleepMs));
    auto start = std::chrono::steady_clock::now();
    seqc_thread_pool_destroy(pool);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
}
