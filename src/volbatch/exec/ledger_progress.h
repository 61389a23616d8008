// A progress line for a job whose blocks other processes compute: follows the job
// directory's ledgers (reading only what was appended since the last poll); and how many
// records one worker's ledger holds, which tells a pool whether that worker got anywhere.
#pragma once

#include <memory>
#include <string>

#include "volbatch/engine/ledger.h"
#include "volbatch/engine/progress.h"

namespace volbatch {

// Whole records in worker `worker`'s ledger now (0 if it has none yet): one open and one fstat,
// whatever the number of workers or blocks. Opened rather than stat'ed so that NFS revalidates
// the size it caches (close-to-open consistency): a remote worker's appends must be seen.
size_t LedgerRecords(const std::string& jobdir, int worker);

class LedgerProgress {
 public:
  // Silent when `enabled` is false or stderr is not a terminal.
  LedgerProgress(const std::string& jobdir, bool enabled);
  void Poll();
  void Finish();
  size_t done() const { return follower_.state().done(); }
  Index total() const { return total_; }

 private:
  LedgerFollower follower_;
  Index total_ = 0;
  size_t seen_done_ = 0, seen_failed_ = 0;
  int64_t block_voxels_ = 0;
  std::unique_ptr<Progress> progress_;
};

}  // namespace volbatch
