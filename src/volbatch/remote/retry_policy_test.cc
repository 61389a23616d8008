#include "volbatch/remote/retry_policy.h"

#include <gtest/gtest.h>

#include <set>

namespace volbatch {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DelaysGrowWithinJitterAndAreCapped) {
  const RetryOptions o{.max_attempts = 20,
                       .initial_delay = milliseconds(100),
                       .max_delay = milliseconds(1000),
                       .total_budget = milliseconds(1'000'000)};
  Backoff b(o, 1);
  const int64_t expected_cap[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t cap : expected_cap) {
    const auto d = b.NextDelay(milliseconds(0));
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(d->count(), cap / 2);
    EXPECT_LE(d->count(), cap);
  }
}

TEST(Backoff, JitterDiffersBetweenRequests) {
  const RetryOptions o{.max_attempts = 10, .initial_delay = milliseconds(1000)};
  std::set<int64_t> first_delays;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Backoff b(o, seed);
    first_delays.insert(b.NextDelay(milliseconds(0))->count());
  }
  EXPECT_GT(first_delays.size(), 10u);  // not in lockstep
}

TEST(Backoff, AttemptBudgetEnds) {
  Backoff b({.max_attempts = 3, .initial_delay = milliseconds(1)}, 2);
  EXPECT_TRUE(b.NextDelay(milliseconds(0)).has_value());
  EXPECT_TRUE(b.NextDelay(milliseconds(0)).has_value());
  EXPECT_EQ(b.attempts(), 3);
  EXPECT_FALSE(b.NextDelay(milliseconds(0)).has_value());
  EXPECT_FALSE(b.NextDelay(milliseconds(0)).has_value());
}

TEST(Backoff, TimeBudgetEnds) {
  Backoff b({.max_attempts = 100,
             .initial_delay = milliseconds(100),
             .max_delay = milliseconds(100),
             .total_budget = milliseconds(1000)},
            3);
  EXPECT_TRUE(b.NextDelay(milliseconds(0)).has_value());
  EXPECT_TRUE(b.NextDelay(milliseconds(850)).has_value());   // ends at 950 at most
  EXPECT_FALSE(b.NextDelay(milliseconds(960)).has_value());  // would end past 1000
  EXPECT_FALSE(b.NextDelay(milliseconds(2000)).has_value());
}

TEST(Backoff, OneAttemptMeansNoRetry) {
  Backoff b({.max_attempts = 1}, 4);
  EXPECT_FALSE(b.NextDelay(milliseconds(0)).has_value());
}

}  // namespace
}  // namespace volbatch
