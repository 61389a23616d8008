#include "volbatch/core/concurrent_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace volbatch {
namespace {

TEST(ConcurrentFor, RunsEveryIndexOnceWithWidthInFlight) {
  constexpr int kWidth = 8;
  std::vector<std::atomic<int>> runs(100);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, most = 0;
  ConcurrentFor(runs.size(), kWidth, [&](size_t i) {
    std::unique_lock lock(mu);
    most = std::max(most, ++in_flight);
    cv.notify_all();
    // Waits (as a request does) until all kWidth are in flight, or a deadline: the width is
    // reached however the threads are scheduled, without a fixed sleep.
    cv.wait_for(lock, std::chrono::seconds(2), [&] { return most >= kWidth; });
    --in_flight;
    lock.unlock();
    ++runs[i];
  });
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  EXPECT_EQ(most, kWidth);
}

TEST(ConcurrentFor, AnExceptionReachesTheCallerAndNoIndexRunsTwice) {
  std::vector<std::atomic<int>> runs(1000);
  try {
    ConcurrentFor(runs.size(), 4, [&](size_t i) {
      ++runs[i];
      if (i == 3) throw std::runtime_error("index 3");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "index 3");
  }
  for (const auto& r : runs) EXPECT_LE(r.load(), 1);
  EXPECT_EQ(runs[3].load(), 1);
}

TEST(ConcurrentFor, WidthOneRunsInOrderOnTheCaller) {
  std::vector<size_t> order;
  ConcurrentFor(5, 1, [&](size_t i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace volbatch
