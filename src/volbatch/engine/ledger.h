// Ledger: the append-only record of finished blocks, one file per worker
// ("JOBDIR/ledger/worker-0003.log"), so workers never write the same file. Layout: fixed-size
// 32-byte little-endian records, no header:
//   0  u32  magic "VBL1"
//   4  u8   status (1 done, 2 failed)   5..7 zero
//   8  u64  block index (C order over the block grid)
//   16 u64  time, milliseconds since the Unix epoch
//   24 u32  milliseconds the block took
//   28 u32  CRC-32C of bytes 0..27
// Records are appended with one write(2) per group (group_commit.h) and made durable with one
// fdatasync before Append returns; a crash mid-append leaves a torn tail, which readers ignore
// (as they ignore any record whose CRC does not match). Reading every ledger costs one
// sequential read of 32 bytes per recorded block; a follower keeps each ledger open and reads
// only what was appended (no open, stat or listing per refresh but for new ledgers).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

enum class BlockStatus : uint8_t { kDone = 1, kFailed = 2 };

struct LedgerRecord {
  BlockStatus status = BlockStatus::kDone;
  Index block = 0;
  uint64_t time_ms = 0;
  uint32_t duration_ms = 0;
};

inline constexpr size_t kLedgerRecordSize = 32;

class LedgerWriter {
 public:
  // Opens (creating) the worker's ledger for appending.
  LedgerWriter(const std::string& jobdir, int worker);
  ~LedgerWriter();
  LedgerWriter(const LedgerWriter&) = delete;
  LedgerWriter& operator=(const LedgerWriter&) = delete;
  // Durable when it returns. Throws IoError naming the file.
  void Append(const LedgerRecord& record) { Append(std::vector<LedgerRecord>{record}); }
  // Several records with one write and one fdatasync.
  void Append(const std::vector<LedgerRecord>& records);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct LedgerState {
  std::map<Index, LedgerRecord> latest;  // per block: done wins over failed, else the last
  size_t done_count = 0;                 // blocks whose latest is done
  size_t records = 0;
  size_t bad_records = 0;  // CRC mismatch or unknown status: skipped
  size_t torn_bytes = 0;   // an incomplete last record: skipped
  std::vector<std::string> files;
  size_t done() const;
  size_t failed() const;
  bool IsDone(Index block) const;
};

// Reads every ledger in the job directory (absent directory: empty state).
LedgerState ReadLedgers(const std::string& jobdir);

// Every valid record of one ledger, in the order written (for the run report).
struct LedgerHistory {
  std::string file;
  std::vector<LedgerRecord> records;
};
std::vector<LedgerHistory> ReadLedgerHistories(const std::string& jobdir);

// Follows the ledgers as workers append to them: each Refresh reads only the bytes appended
// since the last one, from ledgers it keeps open (one read(2) each, no metadata operation),
// and lists the ledger directory for new ledgers at most every `relist` (always on the first
// Refresh). Cost per refresh: O(workers) reads of what was appended.
class LedgerFollower {
 public:
  explicit LedgerFollower(std::string jobdir,
                          std::chrono::milliseconds relist = std::chrono::milliseconds(1000))
      : jobdir_(std::move(jobdir)), relist_(relist) {}
  ~LedgerFollower();
  LedgerFollower(const LedgerFollower&) = delete;
  LedgerFollower& operator=(const LedgerFollower&) = delete;
  void Refresh();
  // Lists the directory on the next Refresh whatever the time.
  void RelistNext() { listed_ = {}; }
  const LedgerState& state() const { return state_; }

 private:
  struct Open {
    int fd = -1;        // -1: reopened on each refresh (past the open-file budget)
    size_t offset = 0;  // bytes consumed (whole records)
  };
  void ReadNew(const std::string& file, Open& o);
  std::string jobdir_;
  std::chrono::milliseconds relist_;
  std::chrono::steady_clock::time_point listed_{};
  std::map<std::string, Open> files_;
  LedgerState state_;
};

// Encoding, for tests.
std::string EncodeLedgerRecord(const LedgerRecord& record);
std::string LedgerPath(const std::string& jobdir, int worker);

}  // namespace volbatch
