// GroupCommit: durability in groups. A finished block's chunks are written but not yet
// durable; its ledger record must not be appended before they are (DESIGN invariant 6). One
// block at a time that costs a filesystem sync and an fdatasync per block (1.1 ms per tiny
// block on this disk). Here finished blocks wait in a group; a flush makes all their chunks
// durable with one sync (syncfs of the output, and of the pyramid levels), then appends all
// their records with one write and one fdatasync, then reports them done. A kill at any point
// leaves no record without its chunks: records go out only after the sync returned.
//
// A group is flushed when a block is added and `interval` has passed since the last flush (so
// a slow block, one per interval or slower, is recorded at once), when it holds `max_blocks`,
// and whenever the owner asks (the end of a pass, a worker about to wait for others).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "volbatch/engine/ledger.h"

namespace volbatch {

class GroupCommit {
 public:
  using SyncFn = std::function<void()>;
  // Called for each block once its record is durable (in the order added, under the commit's
  // lock): `error` is empty for a block done, else why it failed (its own error, or the sync
  // that should have made its chunks durable).
  using DoneFn = std::function<void(const LedgerRecord&, const std::string& error)>;

  // `record_failures`: failed blocks get a failed record (the last attempt of a run); else
  // they are only reported.
  GroupCommit(LedgerWriter& ledger, SyncFn sync, DoneFn done, bool record_failures,
              std::chrono::milliseconds interval = std::chrono::milliseconds(50),
              size_t max_blocks = 4096);
  // A finished block (`error` empty: done); flushes if the group is due.
  void Add(const LedgerRecord& record, std::string error = {});
  // Makes the group durable and reports it. Throws IoError if the ledger cannot be written.
  void Flush();
  size_t flushes() const { return flushes_; }

 private:
  void FlushLocked();
  LedgerWriter& ledger_;
  SyncFn sync_;
  DoneFn done_;
  bool record_failures_;
  std::chrono::milliseconds interval_;
  size_t max_blocks_;
  std::mutex mu_;
  struct Pending {
    LedgerRecord record;
    std::string error;
  };
  std::vector<Pending> pending_;
  std::chrono::steady_clock::time_point last_flush_{};
  size_t flushes_ = 0;
};

}  // namespace volbatch
