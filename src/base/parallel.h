// A minimal parallel loop: calls fn(i) for i in [0, count) on up to
// `threads` threads (0 = one per core). Work is handed out one index at a
// time, so uneven items balance themselves.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace nb {

inline unsigned DefaultThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

template <typename Fn>
void ParallelFor(size_t count, unsigned threads, Fn&& fn) {
  if (threads == 0) threads = DefaultThreads();
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, count)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace nb
