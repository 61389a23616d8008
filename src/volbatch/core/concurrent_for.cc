#include "volbatch/core/concurrent_for.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace volbatch {

void ConcurrentFor(size_t n, int width, const std::function<void(size_t)>& f) {
  if (width <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;
  auto run = [&] {
    for (size_t i; !failed.load(std::memory_order_relaxed) && (i = next++) < n;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  const size_t threads = std::min(n, static_cast<size_t>(width)) - 1;  // the caller is one
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace volbatch
