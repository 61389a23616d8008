#include "volbatch/exec/restart_policy.h"

#include <gtest/gtest.h>

#include "volbatch/exec/exec_test_util.h"

namespace volbatch {
namespace {

using std::chrono::milliseconds;

TEST(RestartPolicy, AWorkerThatRecordedABlockStartsAgainAtOnce) {
  RestartPolicy p;
  for (int i = 0; i < 100; ++i) {  // killed again and again, but always after some progress
    const auto d = p.Died(true);
    EXPECT_TRUE(d.restart);
    EXPECT_EQ(d.delay, milliseconds(0));
    EXPECT_EQ(d.deaths_in_a_row, 0);
  }
}

TEST(RestartPolicy, DeathsWithoutABlockBackOffThenGiveUp) {
  RestartPolicy p;
  auto d = p.Died(false);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, milliseconds(500));
  EXPECT_EQ(d.deaths_in_a_row, 1);
  d = p.Died(false);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, milliseconds(1000));
  d = p.Died(false);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.deaths_in_a_row, RestartPolicy::kGiveUpAfter);
}

TEST(RestartPolicy, ARecordedBlockForgetsTheDeathsBefore) {
  RestartPolicy p;
  EXPECT_EQ(p.Died(false).delay, milliseconds(500));
  EXPECT_EQ(p.Died(false).delay, milliseconds(1000));
  EXPECT_EQ(p.Died(true).delay, milliseconds(0));  // it recorded a block, then died
  EXPECT_EQ(p.deaths_in_a_row(), 0);
  // Two more deaths without a block are not three in a row.
  EXPECT_EQ(p.Died(false).delay, milliseconds(500));
  const auto d = p.Died(false);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, milliseconds(1000));
  EXPECT_FALSE(p.Died(false).restart);
}

TEST(RestartPolicy, ThePauseDoublesUpToTheCap) {
  RestartPolicy p(12, milliseconds(500), milliseconds(30000));
  const int64_t expected[] = {500,   1000,  2000,  4000,  8000, 16000,
                              30000, 30000, 30000, 30000, 30000};
  for (int64_t e : expected) {
    const auto d = p.Died(false);
    ASSERT_TRUE(d.restart);
    EXPECT_EQ(d.delay.count(), e);
  }
  EXPECT_FALSE(p.Died(false).restart);
}

TEST(RestartPolicy, ACapNearTheLimitOfTheTypeDoesNotOverflow) {
  const milliseconds most(milliseconds::max());
  RestartPolicy p(200, milliseconds(1), most);
  milliseconds last(0);
  for (int i = 0; i < 199; ++i) {
    const auto d = p.Died(false);
    ASSERT_TRUE(d.restart);
    EXPECT_GE(d.delay, last);
    EXPECT_LE(d.delay, most);
    last = d.delay;
  }
  EXPECT_EQ(last, most);
}

TEST(RestartPolicy, GivingUpAfterOneDeath) {
  RestartPolicy p(1);
  EXPECT_TRUE(p.Died(true).restart);
  EXPECT_FALSE(p.Died(false).restart);
}

TEST(RestartPolicy, RefusesNonsense) {
  ExpectError([] { RestartPolicy(0); }, "give_up_after");
  ExpectError([] { RestartPolicy(3, milliseconds(0)); }, "first");
  ExpectError([] { RestartPolicy(3, milliseconds(10), milliseconds(5)); }, "most");
}

}  // namespace
}  // namespace volbatch
