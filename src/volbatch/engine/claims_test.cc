#include "volbatch/engine/claims.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "volbatch/engine/ledger.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

class ClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("claims_test." + std::to_string(::getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Sets a claim's heartbeat `seconds` into the past.
  void Age(Index block, double seconds) {
    struct timespec t[2];
    ::clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= static_cast<time_t>(seconds);
    t[1] = t[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, ClaimFile(block).c_str(), t, 0), 0);
  }
  std::string ClaimFile(Index block) {
    return dir_ + "/claims/" + std::to_string(block) + ".claim";
  }
  std::string dir_;
};

TEST_F(ClaimsTest, OneWorkerGetsABlockAndReleaseFreesIt) {
  ClaimBoard a(dir_, 0, milliseconds(60000)), b(dir_, 1, milliseconds(60000));
  EXPECT_TRUE(a.TryClaim(7));
  EXPECT_TRUE(a.TryClaim(7));  // held already
  EXPECT_FALSE(b.TryClaim(7));
  const auto h = b.Holder(7);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->worker, 0);
  EXPECT_EQ(h->pid, ::getpid());
  a.Release(7);
  EXPECT_FALSE(fs::exists(ClaimFile(7)));
  EXPECT_TRUE(b.TryClaim(7));
  EXPECT_EQ(b.Held(), std::set<Index>({7}));
}

TEST_F(ClaimsTest, AStaleClaimIsTakenOverAndItsHolderLetsGoAtItsNextHeartbeat) {
  ClaimBoard dead(dir_, 0, milliseconds(2000)), alive(dir_, 1, milliseconds(2000));
  ASSERT_TRUE(dead.TryClaim(3));
  Age(3, 1);
  EXPECT_FALSE(alive.TryClaim(3));  // 1 s old: still live
  Age(3, 5);
  EXPECT_TRUE(alive.TryClaim(3));
  EXPECT_EQ(alive.Holder(3)->worker, 1);
  dead.Heartbeat();  // the file is the other's now: touching it keeps it fresh, harmless
  dead.Release(3);   // ... and releasing it leaves it alone
  EXPECT_EQ(alive.Holder(3)->worker, 1);
  alive.Release(3);
  dead.Heartbeat();  // gone: forgotten
  EXPECT_TRUE(dead.Held().empty());
  // Nothing but claims in the directory: no leftovers of the takeover.
  EXPECT_TRUE(fs::is_empty(dir_ + "/claims"));
}

TEST_F(ClaimsTest, HeartbeatKeepsAClaimLive) {
  ClaimBoard holder(dir_, 0, milliseconds(2000)), other(dir_, 1, milliseconds(2000));
  ASSERT_TRUE(holder.TryClaim(1));
  Age(1, 5);
  holder.Heartbeat();
  EXPECT_FALSE(other.TryClaim(1));
}

TEST_F(ClaimsTest, RacingTakersGetAStaleClaimOnce) {
  {
    ClaimBoard dead(dir_, 9, milliseconds(1000));
    ASSERT_TRUE(dead.TryClaim(5));
  }
  Age(5, 10);
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      ClaimBoard board(dir_, w, milliseconds(1000));
      if (board.TryClaim(5)) ++winners;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(fs::directory_iterator(dir_ + "/claims")->path().filename(), "5.claim");
}

TEST_F(ClaimsTest, SweepRemovesOnlyStaleClaims) {
  ClaimBoard a(dir_, 0, milliseconds(2000));
  ASSERT_TRUE(a.TryClaim(1));
  ASSERT_TRUE(a.TryClaim(2));
  Age(2, 10);
  std::ofstream(dir_ + "/claims/4.claim.stale.3.99") << "x";
  // What status lists: the two claims, not the takeover leftover.
  std::vector<ClaimHolder> listed = ListClaims(dir_);
  ASSERT_EQ(listed.size(), 2u);
  std::sort(listed.begin(), listed.end(), [](auto& x, auto& y) { return x.block < y.block; });
  EXPECT_EQ(listed[0].block, 1);
  EXPECT_EQ(listed[1].block, 2);
  EXPECT_EQ(listed[1].worker, 0);
  EXPECT_GE(listed[1].age_s, 9.0);
  EXPECT_EQ(a.SweepStale(), 2u);
  EXPECT_TRUE(fs::exists(ClaimFile(1)));
  EXPECT_FALSE(fs::exists(ClaimFile(2)));
}

TEST(LedgerFollowerTest, ReadsOnlyWhatWasAppendedAndNewLedgers) {
  const std::string dir =
      (fs::temp_directory_path() / ("follower_test." + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  LedgerFollower f(dir);
  f.Refresh();
  EXPECT_EQ(f.state().records, 0u);
  {
    LedgerWriter w0(dir, 0);
    w0.Append({BlockStatus::kDone, 1, 0, 0});
    f.Refresh();
    EXPECT_TRUE(f.state().IsDone(1));
    LedgerWriter w1(dir, 1);
    w1.Append({BlockStatus::kFailed, 2, 0, 0});
    w0.Append({BlockStatus::kDone, 3, 0, 0});
    // Half a record being written: left for the next Refresh.
    std::ofstream(LedgerPath(dir, 1), std::ios::app | std::ios::binary)
        << EncodeLedgerRecord({BlockStatus::kDone, 2, 0, 0}).substr(0, 10);
    f.Refresh();
    EXPECT_EQ(f.state().records, 3u);
    EXPECT_FALSE(f.state().IsDone(2));
    std::ofstream(LedgerPath(dir, 1), std::ios::app | std::ios::binary)
        << EncodeLedgerRecord({BlockStatus::kDone, 2, 0, 0}).substr(10);
    f.Refresh();
    EXPECT_TRUE(f.state().IsDone(2));
    EXPECT_EQ(f.state().records, 4u);
    EXPECT_EQ(f.state().bad_records, 0u);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace volbatch
