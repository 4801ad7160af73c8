//===- ThreadPool.cpp - The parallel-for hook for generated models --------===//
//
// Part of seqc's runtime. Workers spin briefly on a generation counter (so
// back-to-back layers do not pay a futex wake-up each) and then sleep on a
// condition variable.
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpuRelax() { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpuRelax() { asm volatile("yield"); }
#else
static inline void cpuRelax() {}
#endif

namespace {
constexpr int kSpinIterations = 4000;
using TaskFn = void (*)(void *, size_t, size_t);
} // namespace

struct seqc_thread_pool {
  unsigned threads = 1;
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable done;
  std::mutex callMutex;
  std::atomic<uint64_t> generation{0};
  std::atomic<unsigned> remaining{0};
  bool stop = false;
  // The current job, published by the release store of `generation`.
  size_t count = 0;
  TaskFn task = nullptr;
  void *ctx = nullptr;

  void runShare(unsigned index) {
    size_t begin = count * index / threads;
    size_t end = count * (index + 1) / threads;
    if (begin < end)
      task(ctx, begin, end);
  }

  void workerLoop(unsigned index) {
    uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpinIterations &&
                      generation.load(std::memory_order_acquire) == seen;
           ++i)
        cpuRelax();
      if (generation.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] {
          return stop || generation.load(std::memory_order_acquire) != seen;
        });
        if (stop)
          return;
      }
      seen = generation.load(std::memory_order_acquire);
      runShare(index);
      if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex);
        done.notify_one();
      }
    }
  }
};

extern "C" seqc_thread_pool *seqc_thread_pool_create(unsigned threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  auto *pool = new (std::nothrow) seqc_thread_pool;
  if (!pool)
    return nullptr;
  pool->threads = threads;
  try {
    for (unsigned i = 1; i < threads; ++i)
      pool->workers.emplace_back([pool, i] { pool->workerLoop(i); });
  } catch (...) {
    pool->threads = static_cast<unsigned>(pool->workers.size()) + 1;
    seqc_thread_pool_destroy(pool);
    return nullptr;
  }
  return pool;
}

extern "C" void seqc_thread_pool_destroy(seqc_thread_pool *pool) {
  if (!pool)
    return;
  {
    std::lock_guard<std::mutex> lock(pool->mutex);
    pool->stop = true;
  }
  pool->wake.notify_all();
  for (std::thread &t : pool->workers)
    t.join();
  delete pool;
}

extern "C" unsigned seqc_thread_pool_size(const seqc_thread_pool *pool) {
  return pool ? pool->threads : 1;
}

extern "C" void seqc_parallel_for(void *poolPtr, size_t count,
                                  void (*task)(void *, size_t, size_t),
                                  void *ctx) {
  auto *pool = static_cast<seqc_thread_pool *>(poolPtr);
  if (count == 0)
    return;
  if (!pool || pool->threads == 1 || count == 1) {
    task(ctx, 0, count);
    return;
  }
  std::lock_guard<std::mutex> call(pool->callMutex);
  pool->count = count;
  pool->task = task;
  pool->ctx = ctx;
  pool->remaining.store(pool->threads - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(pool->mutex);
    pool->generation.fetch_add(1, std::memory_order_acq_rel);
  }
  pool->wake.notify_all();
  pool->runShare(0);
  for (int i = 0; i < kSpinIterations &&
                  pool->remaining.load(std::memory_order_acquire) != 0;
       ++i)
    cpuRelax();
  if (pool->remaining.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(pool->mutex);
    pool->done.wait(lock, [&] {
      return pool->remaining.load(std::memory_order_acquire) == 0;
    });
  }
}
