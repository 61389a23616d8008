#include "volbatch/core/parallel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace volbatch {
namespace {

// Every index once, whatever the range; the caller's plain data written before is seen by the
// bodies and what the bodies wrote is seen after. Under TSan (scripts/sanitize.sh tsan) this is
// the regression test for ParallelFor's edges: with libtbb's threads already running (and
// parked now and then), plain tbb::parallel_for had TSan report reads of `input` in the bodies
// and of `out` after the call as races.
TEST(ParallelFor, EachIndexOnceAndTheCallersDataBothWays) {
  for (int round = 0; round < 50; ++round) {
    if (round % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const size_t n = 20000 + static_cast<size_t>(round);
    std::vector<int> input(n);
    for (size_t i = 0; i < n; ++i) input[i] = static_cast<int>(i) + round;
    std::vector<int> out(n, -1);
    std::atomic<int> calls{0};
    ParallelFor(size_t{0}, n, [&](size_t i) {
      out[i] = input[i] * 2;
      ++calls;
    });
    EXPECT_EQ(calls.load(), static_cast<int>(n));
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], (static_cast<int>(i) + round) * 2) << i;
  }
}

TEST(ParallelFor, EmptyAndOffsetRanges) {
  int calls = 0;
  ParallelFor(int64_t{5}, int64_t{5}, [&](int64_t) { ++calls; });
  ParallelFor(int64_t{7}, int64_t{3}, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  std::vector<int> seen(10, 0);
  ParallelFor(int64_t{3}, int64_t{10}, [&](int64_t i) { seen[static_cast<size_t>(i)] = 1; });
  EXPECT_EQ(seen, (std::vector<int>{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(ParallelFor, ABodysExceptionReachesTheCaller) {
  try {
    ParallelFor(size_t{0}, size_t{100}, [&](size_t i) {
      if (i == 57) throw std::runtime_error("body " + std::to_string(i));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "body 57");
  }
}

// One thread (`--threads 1`) or one index: the loop runs on the caller, so libtbb never starts
// its workers (and a worker process never pays libtbb's start-up).
TEST(ParallelFor, OneThreadOrOneIndexRunsOnTheCaller) {
  const auto caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  ParallelFor(size_t{0}, size_t{1}, [&](size_t) {
    if (std::this_thread::get_id() != caller) ++elsewhere;
  });
  SetThreadLimit(1);
  std::vector<int> order;
  ParallelFor(size_t{0}, size_t{1000}, [&](size_t i) {
    if (std::this_thread::get_id() != caller) ++elsewhere;
    order.push_back(static_cast<int>(i));  // unsynchronised: fine only on one thread
  });
  SetThreadLimit(0);
  EXPECT_EQ(elsewhere, 0);
  ASSERT_EQ(order.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

// A stage object handed to other threads (as the pipeline's filters are) sees what was built.
TEST(Handed, CallsTheFunctorWithItsArguments) {
  const std::vector<int> table = {1, 2, 3};
  const Handed h([&](size_t i, int k) { return table[i] * k; });
  const Handed copy = h;
  EXPECT_EQ(copy(2, 10), 30);
}

}  // namespace
}  // namespace volbatch
