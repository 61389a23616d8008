#include "volbatch/engine/claims.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/ledger.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kLease(60000);

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
  // Sets a holder's heartbeat `seconds` into the past.
  void Age(const std::string& file, double seconds) {
    struct timespec t[2];
    ::clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= static_cast<time_t>(seconds);
    t[1] = t[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), t, 0), 0) << file;
  }
  std::vector<std::string> HolderFiles() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_ + "/claims/holders")) {
      names.push_back(e.path().string());
    }
    return names;
  }
  // Every position of `lane` exactly once over `runs`.
  static void ExpectPartition(std::vector<ClaimRun> runs, int lane, Index length) {
    std::sort(runs.begin(), runs.end());
    Index at = 0;
    for (const ClaimRun& r : runs) {
      EXPECT_EQ(r.lane, lane);
      EXPECT_EQ(r.start, at);
      EXPECT_GT(r.end, r.start);
      at = r.end;
    }
    EXPECT_EQ(at, length);
  }
  std::string dir_;
};

TEST(Lanes, CutTheBlocksIntoConsecutiveRanges) {
  const Lanes l{10, 4};
  EXPECT_EQ(l.Length(0), 3);  // 0 1 2
  EXPECT_EQ(l.Length(1), 3);  // 3 4 5
  EXPECT_EQ(l.Length(2), 3);  // 6 7 8
  EXPECT_EQ(l.Length(3), 1);  // 9
  EXPECT_EQ(l.Block(1, 2), 5);
  EXPECT_EQ(l.Block(3, 0), 9);
  EXPECT_EQ((Lanes{2, 4}.Length(3)), 0);  // more lanes than blocks
  EXPECT_EQ((Lanes{2, 4}.Length(1)), 1);
  EXPECT_EQ((Lanes{9, 4}.Length(3)), 0);  // ceil(9/4) = 3: 3 + 3 + 3
}

TEST_F(ClaimsTest, AWorkerTakesItsLaneInRunsAndThenItEnds) {
  ClaimBoard a(dir_, 1, 4, 100, kLease);
  EXPECT_EQ(a.own_lane(), 1);
  EXPECT_EQ(a.lanes().Length(1), 25);
  EXPECT_EQ(a.lanes().Block(1, 0), 25);
  std::vector<ClaimRun> runs;
  while (auto r = a.TakeRun(1, 7)) runs.push_back(*r);
  ASSERT_EQ(runs.size(), 4u);  // 7 + 7 + 7 + 4
  ExpectPartition(runs, 1, 25);
  EXPECT_EQ(a.Held().size(), 4u);
  EXPECT_TRUE(fs::exists(dir_ + "/claims/ends/1"));
  EXPECT_EQ(a.OpenLanes(1), (std::vector<int>{2, 3, 0}));
  // The holder file names the lane its runs are in (written once, not per run); status reads
  // it.
  const std::vector<ClaimHolder> holders = ListHolders(dir_);
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].worker, 1);
  EXPECT_EQ(holders[0].pid, ::getpid());
  EXPECT_EQ(holders[0].lanes, (std::vector<std::pair<int, Index>>{{1, 0}}));
  EXPECT_TRUE(holders[0].runs.empty());
  for (const ClaimRun& r : runs) a.Finished(r);
  a.Leave();
  EXPECT_TRUE(ListHolders(dir_).empty());
}

TEST_F(ClaimsTest, TwoWorkersOnOneIndexSplitTheLaneWithoutOverlap) {
  ClaimBoard a(dir_, 0, 2, 1000, kLease), b(dir_, 0, 2, 1000, kLease);
  std::vector<ClaimRun> runs;
  for (bool more = true; more;) {
    more = false;
    for (ClaimBoard* w : {&a, &b}) {
      if (auto r = w->TakeRun(0, 13)) {
        runs.push_back(*r);
        more = true;
      }
    }
  }
  ExpectPartition(runs, 0, 500);
  EXPECT_GT(a.Held().size(), 10u);
  EXPECT_GT(b.Held().size(), 10u);
}

TEST_F(ClaimsTest, RacingThreadsTakeEveryRunOnce) {
  std::vector<std::vector<ClaimRun>> got(8);
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      ClaimBoard board(dir_, w, 8, 8000, kLease);
      // Everyone helps lane 3 with runs of different sizes.
      while (auto r = board.TakeRun(3, 1 + w)) got[static_cast<size_t>(w)].push_back(*r);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<ClaimRun> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  ExpectPartition(all, 3, 1000);
}

TEST_F(ClaimsTest, AHelperFollowsTheChainFromTheHint) {
  ClaimBoard owner(dir_, 0, 2, 200, kLease);
  ASSERT_TRUE(owner.TakeRun(0, 10));
  ASSERT_TRUE(owner.TakeRun(0, 10));
  ClaimBoard helper(dir_, 1, 2, 200, kLease);
  while (helper.TakeRun(1, 50)) {
  }
  EXPECT_EQ(helper.OpenLanes(1), (std::vector<int>{0}));
  const auto r = helper.TakeRun(0, 30);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 20);  // after the owner's two runs, read from the hint
  EXPECT_EQ(r->end, 50);
  const auto mine = owner.TakeRun(0, 10);  // the owner skips the helper's run
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->start, 50);
}

TEST_F(ClaimsTest, AStaleHolderIsTakenOverOnceAndItsOwnerWritesItselfBackAtItsHeartbeat) {
  ClaimBoard dead(dir_, 0, 2, 100, milliseconds(2000));
  const ClaimRun run = *dead.TakeRun(0, 5);
  ClaimBoard alive(dir_, 1, 2, 100, milliseconds(2000));
  ASSERT_EQ(HolderFiles().size(), 1u);
  Age(HolderFiles()[0], 1);
  ClaimBoard::Survey s = alive.SurveyHolders();
  EXPECT_TRUE(s.taken_over.empty());  // 1 s old: live
  EXPECT_TRUE(s.others_busy);
  Age(HolderFiles()[0], 5);
  s = alive.SurveyHolders();
  ASSERT_EQ(s.taken_over.size(), 1u);
  EXPECT_EQ(s.taken_over[0], run);
  EXPECT_EQ(alive.Held(), std::set<ClaimRun>({run}));
  // Only the taker's holder is left, and no leftover of the takeover.
  ASSERT_EQ(ListHolders(dir_).size(), 1u);
  EXPECT_EQ(ListHolders(dir_)[0].worker, 1);
  for (const auto& e : fs::directory_iterator(dir_ + "/claims/holders")) {
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  }
  // The stopped holder comes back: it still holds its run (computing it twice is harmless).
  dead.Heartbeat();
  EXPECT_EQ(ListHolders(dir_).size(), 2u);
}

TEST_F(ClaimsTest, RacingTakersGetAStaleHolderOnce) {
  {
    ClaimBoard dead(dir_, 9, 10, 100, milliseconds(1000));
    ASSERT_TRUE(dead.TakeRun(9, 5));
    ASSERT_TRUE(dead.TakeRun(9, 5));
    dead.Leave();  // it holds runs: the file stays
  }
  ASSERT_EQ(HolderFiles().size(), 1u);
  Age(HolderFiles()[0], 10);
  std::atomic<int> winners{0}, runs{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      ClaimBoard board(dir_, w, 10, 100, milliseconds(1000));
      const auto s = board.SurveyHolders();
      if (!s.taken_over.empty()) ++winners;
      runs += static_cast<int>(s.taken_over.size());
      for (const ClaimRun& r : s.taken_over) board.Finished(r);
      board.Leave();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(runs.load(), 2);
  EXPECT_TRUE(HolderFiles().empty());
}

TEST_F(ClaimsTest, AHolderWhoseProcessIsGoneOnThisHostIsStaleAtOnce) {
  const pid_t child = ::fork();
  if (child == 0) {
    ClaimBoard board(dir_, 0, 2, 100, kLease);
    board.TakeRun(0, 10);
    ::_exit(0);  // no destructor: the holder file stays as a killed worker leaves it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(ListHolders(dir_).size(), 1u);
  EXPECT_EQ(ListHolders(dir_)[0].pid, child);
  ClaimBoard restarted(dir_, 0, 2, 100, kLease);  // a 60 s lease, yet no wait
  const auto s = restarted.SurveyHolders();
  ASSERT_EQ(s.taken_over.size(), 1u);
  EXPECT_EQ(s.taken_over[0], (ClaimRun{0, 0, 10}));
  const auto again = restarted.SurveyHolders();
  EXPECT_TRUE(again.taken_over.empty());
  EXPECT_FALSE(again.others_busy);
}

TEST_F(ClaimsTest, ATakeoverFindsOnlyTheDeadHoldersRunsInASharedLane) {
  ClaimBoard dead(dir_, 0, 1, 100, milliseconds(1000));
  ClaimBoard twin(dir_, 1, 1, 100, milliseconds(1000));  // another worker on the same lane
  std::set<ClaimRun> mine;
  for (int i = 0; i < 3; ++i) {
    mine.insert(*dead.TakeRun(0, 10));
    twin.TakeRun(0, 7);
  }
  for (const ClaimRun& r : twin.Held()) twin.Finished(r);
  twin.Leave();
  dead.Leave();  // runs in hand: its holder stays
  ASSERT_EQ(HolderFiles().size(), 1u);
  Age(HolderFiles()[0], 10);
  ClaimBoard taker(dir_, 2, 1, 100, milliseconds(1000));
  const auto s = taker.SurveyHolders();
  EXPECT_EQ(std::set<ClaimRun>(s.taken_over.begin(), s.taken_over.end()), mine);
}

TEST_F(ClaimsTest, ARunFileItsCreatorNeverWroteIsOnePositionForEveryoneAndTakenOver) {
  ClaimBoard dead(dir_, 0, 2, 100, milliseconds(1000));
  ASSERT_TRUE(dead.TakeRun(0, 10));  // [0, 10), its holder file says "from 0 0"
  // Killed right after creating its next run's file, before writing it.
  std::ofstream(dir_ + "/claims/runs/0.10").close();
  dead.Leave();
  ClaimBoard other(dir_, 1, 2, 100, milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::now();
  const auto next = other.TakeRun(0, 5);  // waits for the newline, then goes on at 11
  ASSERT_TRUE(next);
  EXPECT_EQ(next->start, 11);
  // The wait counts from the file's mtime (a coarse clock, set before t0), so a little under 1 s.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  for (const auto& h : ListHolders(dir_)) {
    if (h.worker == 0) Age(dir_ + "/claims/holders/" + h.file, 10);
  }
  // The file is over a second old now: the takeover does not wait for it again (waiting,
  // every taker held back its own heartbeat past the lease and the takers took the file from
  // each other forever).
  const auto t1 = std::chrono::steady_clock::now();
  const auto s = other.SurveyHolders();
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(900));
  EXPECT_EQ(std::set<ClaimRun>(s.taken_over.begin(), s.taken_over.end()),
            (std::set<ClaimRun>{{0, 0, 10}, {0, 10, 11}}));
}

TEST_F(ClaimsTest, AGenerationTellsWhatWasDoneAndWaitsForLiveWorkers) {
  LedgerState state;
  LedgerRecord r;
  r.block = 3;
  state.latest[3] = r;
  r.block = 9;
  r.status = BlockStatus::kFailed;
  state.latest[9] = r;
  ASSERT_TRUE(StartClaimGeneration(dir_, 10, state, kLease));
  {
    ClaimBoard a(dir_, 0, 2, 10, kLease);
    std::vector<bool> want(10, false);
    want[3] = true;
    EXPECT_EQ(a.done_at_start(), want);
    ASSERT_TRUE(a.TakeRun(0, 2));
    // A worker is live: a second `run` joins it and keeps its claims.
    EXPECT_FALSE(StartClaimGeneration(dir_, 10, LedgerState{}, kLease));
    EXPECT_TRUE(fs::exists(dir_ + "/claims/runs/0.0"));
    for (const ClaimRun& run : a.Held()) a.Finished(run);
  }
  // Nobody live: a new generation with what the ledgers say now, and no runs.
  EXPECT_TRUE(StartClaimGeneration(dir_, 10, LedgerState{}, kLease));
  EXPECT_FALSE(fs::exists(dir_ + "/claims/runs/0.0"));
  ClaimBoard b(dir_, 0, 2, 10, kLease);
  EXPECT_EQ(b.done_at_start(), std::vector<bool>(10, false));
  EXPECT_EQ(b.TakeRun(0, 2)->start, 0);
}

TEST_F(ClaimsTest, WorkersWithoutAGenerationStartOneFromTheLedgers) {
  {
    LedgerWriter w(dir_, 0);
    w.Append({BlockStatus::kDone, 4, 0, 0});
  }
  ClaimBoard a(dir_, 0, 1, 6, kLease);
  EXPECT_EQ(a.done_at_start(), (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_TRUE(fs::exists(dir_ + "/claims/generation"));
  // The first worker sets the lane count; a worker started with another --of follows it.
  ClaimBoard b(dir_, 2, 3, 6, kLease);
  EXPECT_EQ(b.lanes().count, 1);
  EXPECT_EQ(b.own_lane(), 0);
}

TEST_F(ClaimsTest, BadClaimFilesAreErrorsThatNameTheFile) {
  ASSERT_TRUE(StartClaimGeneration(dir_, 10, LedgerState{}, kLease));
  ClaimBoard a(dir_, 0, 1, 10, kLease);
  std::ofstream(dir_ + "/claims/runs/0.0") << "zero\n";
  try {
    a.TakeRun(0, 3);
    FAIL() << "a garbled run was followed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("claims/runs/0.0"), std::string::npos) << e.what();
  }
  try {
    ClaimBoard other(dir_, 0, 1, 11, kLease);
    FAIL() << "a generation for 10 blocks was joined by a job of 11";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("claims/generation"), std::string::npos) << e.what();
  }
  std::ofstream(dir_ + "/claims/generation") << "not a generation\n";
  EXPECT_THROW(ClaimBoard(dir_, 0, 1, 10, kLease), Error);
}

TEST(LedgerFollowerTest, ReadsOnlyWhatWasAppendedAndNewLedgers) {
  const std::string dir =
      (fs::temp_directory_path() / ("follower_test." + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  LedgerFollower f(dir, milliseconds(0));
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
    EXPECT_EQ(f.state().done(), 2u);
    EXPECT_EQ(f.state().failed(), 1u);
    std::ofstream(LedgerPath(dir, 1), std::ios::app | std::ios::binary)
        << EncodeLedgerRecord({BlockStatus::kDone, 2, 0, 0}).substr(10);
    f.Refresh();
    EXPECT_TRUE(f.state().IsDone(2));
    EXPECT_EQ(f.state().records, 4u);
    EXPECT_EQ(f.state().done(), 3u);
    EXPECT_EQ(f.state().failed(), 0u);
    EXPECT_EQ(f.state().bad_records, 0u);
  }
  fs::remove_all(dir);
}

TEST(LedgerFollowerTest, ListsTheDirectoryOnlyEveryRelistInterval) {
  const std::string dir =
      (fs::temp_directory_path() / ("follower_relist." + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  LedgerFollower f(dir, std::chrono::hours(1));
  LedgerWriter w0(dir, 0);
  w0.Append({BlockStatus::kDone, 1, 0, 0});
  f.Refresh();
  EXPECT_EQ(f.state().done(), 1u);
  LedgerWriter w1(dir, 1);
  w1.Append({BlockStatus::kDone, 2, 0, 0});
  w0.Append({BlockStatus::kDone, 3, 0, 0});
  f.Refresh();  // the open ledger is followed; the new one waits for the next listing
  EXPECT_EQ(f.state().done(), 2u);
  f.RelistNext();
  f.Refresh();
  EXPECT_EQ(f.state().done(), 3u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace volbatch
