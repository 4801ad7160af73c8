//===- RunTogether.cpp - Microbenchmarks on threads that start at once ----===//

#include "compiler/bench/RunTogether.h"

#include "compiler/bench/HostCpu.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace seqc::bench {

bool runTogether(unsigned threads, const std::function<void(unsigned)> &body) {
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  auto start = [&](unsigned t) {
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire))
      std::this_thread::yield();
    body(t);
  };
  std::vector<std::thread> workers;
  bool spawnFailed = false;
  try {
    workers.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t)
      workers.emplace_back(start, t);
  } catch (const std::exception &) {
    spawnFailed = true;
  }
  while (ready.load() != workers.size())
    std::this_thread::yield();
  go.store(true, std::memory_order_release);
  start(0);
  for (std::thread &worker : workers)
    worker.join();
  return !spawnFailed;
}

double countedRate(const std::vector<double> &rates) {
  if (rates.empty())
    return 0.0;
  double total = 0.0;
  for (double rate : rates)
    total += rate;
  unsigned threads = static_cast<unsigned>(rates.size());
  double counted = std::min(threads, hostHardwareThreads());
  return total / threads * counted;
}

} // namespace seqc::bench
