// Ledger: the append-only record of finished blocks, one file per worker
// ("JOBDIR/ledger/worker-0003.log"), so workers never write the same file. Layout: fixed-size
// 32-byte little-endian records, no header:
//   0  u32  magic "VBL1"
//   4  u8   status (1 done, 2 failed)   5..7 zero
//   8  u64  block index (C order over the block grid)
//   16 u64  time, milliseconds since the Unix epoch
//   24 u32  milliseconds the block took
//   28 u32  CRC-32C of bytes 0..27
// A record is appended with one write(2) and made durable with fdatasync before Append
// returns; a crash mid-append leaves a torn tail, which readers ignore (as they ignore any
// record whose CRC does not match). Reading every ledger costs one sequential read of
// 32 bytes per recorded block.
#pragma once

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
  void Append(const LedgerRecord& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct LedgerState {
  std::map<Index, LedgerRecord> latest;  // per block: done wins over failed, else the last
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
// since the last one (and ledgers that appeared), so a worker can check a block it just
// claimed against everyone's records at the cost of the records written meanwhile.
class LedgerFollower {
 public:
  explicit LedgerFollower(std::string jobdir) : jobdir_(std::move(jobdir)) {}
  void Refresh();
  const LedgerState& state() const { return state_; }

 private:
  std::string jobdir_;
  std::map<std::string, size_t> offsets_;  // per file: bytes consumed (whole records)
  LedgerState state_;
};

// Encoding, for tests.
std::string EncodeLedgerRecord(const LedgerRecord& record);
std::string LedgerPath(const std::string& jobdir, int worker);

}  // namespace volbatch
