#include "volbatch/engine/group_commit.h"

#include <algorithm>

#include "volbatch/core/error.h"

namespace volbatch {

GroupCommit::GroupCommit(LedgerWriter& ledger, SyncFn sync, DoneFn done, bool record_failures,
                         std::chrono::milliseconds interval, size_t max_blocks)
    : ledger_(ledger),
      sync_(std::move(sync)),
      done_(std::move(done)),
      record_failures_(record_failures),
      interval_(interval),
      max_blocks_(std::max<size_t>(1, max_blocks)) {}

void GroupCommit::Add(const LedgerRecord& record, std::string error) {
  std::lock_guard lock(mu_);
  Pending p{record, std::move(error)};
  p.record.status = p.error.empty() ? BlockStatus::kDone : BlockStatus::kFailed;
  pending_.push_back(std::move(p));
  const auto now = std::chrono::steady_clock::now();
  if (pending_.size() >= max_blocks_ || flushes_ == 0 || now - last_flush_ >= interval_) {
    FlushLocked();
  }
}

void GroupCommit::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void GroupCommit::FlushLocked() {
  if (pending_.empty()) return;
  bool any_done = false;
  for (const Pending& p : pending_) any_done |= p.error.empty();
  if (any_done) {
    // The chunks first: a record never precedes its data. A failed sync cannot say which
    // chunks are durable, so every block of the group failed.
    try {
      sync_();
    } catch (const Error& e) {
      for (Pending& p : pending_) {
        if (!p.error.empty()) continue;
        p.error = e.what();
        p.record.status = BlockStatus::kFailed;
      }
    }
  }
  std::vector<LedgerRecord> records;
  for (const Pending& p : pending_) {
    if (p.error.empty() || record_failures_) records.push_back(p.record);
  }
  ledger_.Append(records);
  ++flushes_;
  last_flush_ = std::chrono::steady_clock::now();
  std::vector<Pending> flushed;
  flushed.swap(pending_);
  for (const Pending& p : flushed) done_(p.record, p.error);
}

}  // namespace volbatch
