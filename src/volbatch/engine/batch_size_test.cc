#include "volbatch/engine/batch_size.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

using std::chrono::milliseconds;

TEST(BatchSizer, StartsWithOneBlock) {
  BatchSizer s(milliseconds(60000));
  EXPECT_EQ(s.Next(0, 0, 1000), 1);
}

TEST(BatchSizer, AimsAtTwoSecondsOfWorkGrowingAtMostFourfold) {
  BatchSizer s(milliseconds(60000));
  EXPECT_DOUBLE_EQ(s.target_s(), 2.0);
  EXPECT_EQ(s.Next(0, 0, 1 << 20), 1);
  // 1000 blocks per second: 2000 blocks are 2 s of work, reached by 4x steps.
  EXPECT_EQ(s.Next(1, 0.001, 1 << 20), 4);
  EXPECT_EQ(s.Next(5, 0.005, 1 << 20), 16);
  EXPECT_EQ(s.Next(21, 0.021, 1 << 20), 64);
  EXPECT_EQ(s.Next(85, 0.085, 1 << 20), 256);
  EXPECT_EQ(s.Next(341, 0.341, 1 << 20), 1024);
  EXPECT_EQ(s.Next(1365, 1.365, 1 << 20), 2000);
  EXPECT_EQ(s.Next(3365, 3.365, 1 << 20), 2000);
}

TEST(BatchSizer, SlowBlocksGoOneAtATime) {
  BatchSizer s(milliseconds(60000));
  s.Next(0, 0, 100);
  EXPECT_EQ(s.Next(1, 30.0, 100), 1);  // a block takes 30 s
  EXPECT_EQ(s.Next(2, 60.0, 100), 1);
}

TEST(BatchSizer, NeverMoreThanAQuarterLeaseOfWork) {
  BatchSizer s(milliseconds(1000));
  EXPECT_DOUBLE_EQ(s.target_s(), 0.25);
  Index n = 0;
  for (int i = 0; i < 20; ++i) n = s.Next(1000, 1.0, 1 << 20);  // 1000 blocks per second
  EXPECT_EQ(n, 250);
}

TEST(BatchSizer, StaysWithinTheLimit) {
  BatchSizer s(milliseconds(60000));
  Index n = 0;
  for (int i = 0; i < 20; ++i) n = s.Next(100000, 1.0, 7);
  EXPECT_EQ(n, 7);
  EXPECT_EQ(s.Next(100000, 1.0, 0), 1);
}

}  // namespace
}  // namespace volbatch
