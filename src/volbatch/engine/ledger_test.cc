#include "volbatch/engine/ledger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace volbatch {
namespace {
namespace fs = std::filesystem;

std::string TempDir() {
  std::string d = (fs::temp_directory_path() /
                   ("ledger_test." + std::to_string(::getpid()) + "." +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                      .string();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(Ledger, AppendsAndReadsBack) {
  const std::string dir = TempDir();
  {
    LedgerWriter w(dir, 0);
    w.Append({BlockStatus::kDone, 3, 1000, 5});
    w.Append({BlockStatus::kFailed, 4, 1001, 6});
  }
  {
    LedgerWriter w(dir, 1);
    w.Append({BlockStatus::kDone, 4, 1002, 7});  // another worker finished block 4
  }
  LedgerState s = ReadLedgers(dir);
  EXPECT_EQ(s.records, 3u);
  EXPECT_EQ(s.files.size(), 2u);
  EXPECT_TRUE(s.IsDone(3));
  EXPECT_TRUE(s.IsDone(4));
  EXPECT_FALSE(s.IsDone(5));
  EXPECT_EQ(s.done(), 2u);
  EXPECT_EQ(s.failed(), 0u);
}

TEST(Ledger, DoneIsNotUndoneByALaterFailure) {
  const std::string dir = TempDir();
  LedgerWriter w(dir, 0);
  w.Append({BlockStatus::kDone, 1, 1, 1});
  w.Append({BlockStatus::kFailed, 1, 2, 1});
  EXPECT_TRUE(ReadLedgers(dir).IsDone(1));
}

TEST(Ledger, TornTailIsIgnoredAndCutOnReopen) {
  const std::string dir = TempDir();
  {
    LedgerWriter w(dir, 0);
    w.Append({BlockStatus::kDone, 1, 1, 1});
  }
  const std::string rec = EncodeLedgerRecord({BlockStatus::kDone, 2, 1, 1});
  {
    std::ofstream out(LedgerPath(dir, 0), std::ios::binary | std::ios::app);
    out.write(rec.data(), 20);  // a crash mid-append
  }
  LedgerState s = ReadLedgers(dir);
  EXPECT_EQ(s.torn_bytes, 20u);
  EXPECT_TRUE(s.IsDone(1));
  EXPECT_FALSE(s.IsDone(2));
  {
    LedgerWriter w(dir, 0);  // cuts the torn record, so the next one stays aligned
    w.Append({BlockStatus::kDone, 7, 1, 1});
  }
  s = ReadLedgers(dir);
  EXPECT_EQ(s.torn_bytes, 0u);
  EXPECT_TRUE(s.IsDone(7));
  EXPECT_EQ(fs::file_size(LedgerPath(dir, 0)), 2 * kLedgerRecordSize);
}

TEST(Ledger, CorruptRecordIsSkipped) {
  const std::string dir = TempDir();
  {
    LedgerWriter w(dir, 0);
    w.Append({BlockStatus::kDone, 1, 1, 1});
    w.Append({BlockStatus::kDone, 2, 1, 1});
  }
  {
    std::fstream f(LedgerPath(dir, 0), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(8);
    f.put('\x09');  // block 1 -> 9, CRC no longer matches
  }
  LedgerState s = ReadLedgers(dir);
  EXPECT_EQ(s.bad_records, 1u);
  EXPECT_FALSE(s.IsDone(1));
  EXPECT_FALSE(s.IsDone(9));
  EXPECT_TRUE(s.IsDone(2));
}

}  // namespace
}  // namespace volbatch
