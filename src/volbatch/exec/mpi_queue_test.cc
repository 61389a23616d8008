#include "volbatch/exec/mpi_queue.h"

#include <gtest/gtest.h>

#include <numeric>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using std::chrono::microseconds;

std::vector<Index> Blocks(Index n) {
  std::vector<Index> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), Index{0});
  return v;
}

TEST(BlockQueue, HandsOutInOrderAsManyAsAsked) {
  BlockQueue q(Blocks(100), 1);
  EXPECT_EQ(q.Take(1), std::vector<int64_t>({0}));
  EXPECT_EQ(q.Take(3), std::vector<int64_t>({1, 2, 3}));
  EXPECT_EQ(q.remaining(), 96);
  EXPECT_EQ(q.Take(1000).size(), 96u);
  EXPECT_TRUE(q.Take(5).empty());  // none: no more
}

TEST(BlockQueue, AtLeastOneAndAtMostTheCap) {
  BlockQueue q(Blocks(kMaxBatch + 10), 1);
  EXPECT_EQ(q.Take(0).size(), 1u);
  EXPECT_EQ(q.Take(-7).size(), 1u);
  EXPECT_EQ(q.Take(std::numeric_limits<int64_t>::max()).size(), static_cast<size_t>(kMaxBatch));
  EXPECT_EQ(q.remaining(), 8);
}

TEST(BlockQueue, NearTheEndEachWorkerGetsAnEvenShare) {
  // Four workers asking for far more than is left: the last blocks still spread over all.
  BlockQueue q(Blocks(100), 4);
  EXPECT_EQ(q.Take(1000).size(), 25u);  // 100 / 4
  EXPECT_EQ(q.Take(1000).size(), 19u);  // 75 / 4, rounded up
  EXPECT_EQ(q.Take(10).size(), 10u);    // a small request is not raised
  std::vector<size_t> sizes;
  while (q.remaining() > 0) sizes.push_back(q.Take(1000).size());
  EXPECT_EQ(sizes.back(), 1u);
  for (size_t i = 1; i < sizes.size(); ++i) EXPECT_LE(sizes[i], sizes[i - 1]);
}

TEST(CheckMpiMessage, AcceptsWhatEachTagCarries) {
  EXPECT_NO_THROW(CheckMpiMessage(1, kRequest, 1));
  EXPECT_NO_THROW(CheckMpiMessage(2, kFailed, 1));
  EXPECT_NO_THROW(CheckMpiMessage(3, kFinished, 2));
}

TEST(CheckMpiMessage, RefusesOtherSizesAndTagsNamingTheRank) {
  try {
    CheckMpiMessage(7, kRequest, 3);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_STREQ(e.what(), "--mpi: rank 7 sent 3 values with tag 1, expected 1");
  }
  EXPECT_THROW(CheckMpiMessage(1, kFinished, 1), Error);
  EXPECT_THROW(CheckMpiMessage(1, kAssign, 1), Error);  // rank 0 sends it, never receives it
  try {
    CheckMpiMessage(2, 99, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "--mpi: rank 2 sent a message with tag 99, which the block queue "
                 "does not know");
  }
}

TEST(PollBackoff, DoublesFromTenMicrosecondsToOneMillisecond) {
  PollBackoff b;
  std::vector<int64_t> pauses;
  for (int i = 0; i < 9; ++i) pauses.push_back(b.Next().count());
  EXPECT_EQ(pauses, std::vector<int64_t>({10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
}

}  // namespace
}  // namespace volbatch
