#include "volbatch/engine/group_commit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("group_commit_test." + std::to_string(::getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  LedgerRecord Block(Index b) {
    LedgerRecord r;
    r.block = b;
    return r;
  }
  std::string dir_;
};

TEST_F(GroupCommitTest, SyncsOnceThenRecordsTheWholeGroup) {
  LedgerWriter ledger(dir_, 0);
  int syncs = 0;
  std::vector<Index> reported;
  // The records on disk at the moment of each sync: none of the group's may precede it.
  std::vector<size_t> records_at_sync;
  GroupCommit commit(
      ledger,
      [&] {
        ++syncs;
        records_at_sync.push_back(ReadLedgers(dir_).records);
      },
      [&](const LedgerRecord& r, const std::string& error) {
        EXPECT_TRUE(error.empty());
        EXPECT_EQ(ReadLedgers(dir_).IsDone(r.block), true) << "reported before it was durable";
        reported.push_back(r.block);
      },
      true, std::chrono::hours(1));
  commit.Add(Block(0));  // the first block of a run goes out at once
  EXPECT_EQ(syncs, 1);
  for (Index b = 1; b <= 100; ++b) commit.Add(Block(b));
  EXPECT_EQ(syncs, 1);  // within the interval: waiting in the group
  EXPECT_EQ(reported.size(), 1u);
  commit.Flush();
  EXPECT_EQ(syncs, 2);
  EXPECT_EQ(records_at_sync, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(reported.size(), 101u);
  EXPECT_EQ(ReadLedgers(dir_).done(), 101u);
  EXPECT_EQ(commit.flushes(), 2u);
  commit.Flush();  // nothing pending: no sync, no write
  EXPECT_EQ(syncs, 2);
}

TEST_F(GroupCommitTest, SlowBlocksAreRecordedAtOnce) {
  LedgerWriter ledger(dir_, 0);
  size_t reported = 0;
  GroupCommit commit(
      ledger, [] {}, [&](const LedgerRecord&, const std::string&) { ++reported; }, true,
      milliseconds(1));
  for (Index b = 0; b < 3; ++b) {
    const auto t = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t < milliseconds(2)) std::this_thread::yield();
    commit.Add(Block(b));
    EXPECT_EQ(reported, static_cast<size_t>(b + 1));
  }
}

TEST_F(GroupCommitTest, AFullGroupIsFlushed) {
  LedgerWriter ledger(dir_, 0);
  int syncs = 0;
  GroupCommit commit(
      ledger, [&] { ++syncs; }, [](const LedgerRecord&, const std::string&) {}, true,
      std::chrono::hours(1), 10);
  for (Index b = 0; b < 21; ++b) commit.Add(Block(b));
  EXPECT_EQ(syncs, 3);  // block 0, then blocks 1..10, then 11..20
  EXPECT_EQ(ReadLedgers(dir_).done(), 21u);
}

TEST_F(GroupCommitTest, AFailedSyncFailsEveryBlockOfTheGroupAndRecordsNoneDone) {
  LedgerWriter ledger(dir_, 0);
  std::vector<std::string> errors;
  GroupCommit commit(
      ledger, [] { throw IoError("out/c/0: syncfs: Input/output error"); },
      [&](const LedgerRecord& r, const std::string& error) {
        EXPECT_EQ(r.status, BlockStatus::kFailed);
        errors.push_back(error);
      },
      true, std::chrono::hours(1));
  commit.Add(Block(0));
  commit.Add(Block(1));
  commit.Add(Block(2), "block 2: cannot read");
  commit.Flush();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("syncfs"), std::string::npos);
  EXPECT_EQ(errors[2], "block 2: cannot read");
  const LedgerState s = ReadLedgers(dir_);
  EXPECT_EQ(s.done(), 0u);
  EXPECT_EQ(s.failed(), 3u);
}

TEST_F(GroupCommitTest, FailuresOfAnAttemptThatWillBeRetriedAreNotRecorded) {
  LedgerWriter ledger(dir_, 0);
  size_t reported = 0;
  GroupCommit commit(
      ledger, [] {}, [&](const LedgerRecord&, const std::string&) { ++reported; }, false);
  commit.Add(Block(0), "failed");
  commit.Add(Block(1));
  commit.Flush();
  EXPECT_EQ(reported, 2u);
  const LedgerState s = ReadLedgers(dir_);
  EXPECT_EQ(s.records, 1u);
  EXPECT_TRUE(s.IsDone(1));
}

}  // namespace
}  // namespace volbatch
