// How many blocks a worker takes at once (a claimed run in work.h, a queue request in MPI):
// about `target` seconds of work at the rate this worker has shown so far, so that tiny blocks
// share one claim (one create, link and unlink for hundreds of blocks) while large ones stay
// one at a time and the last blocks still spread over every worker. The target never exceeds
// a quarter of the lease, so a batch is never more work than a lease. A batch grows at most 4x
// over the last one: the first blocks of a worker pay its start-up and would overstate the
// time a block takes, and skipped (already done) blocks would understate it.
#pragma once

#include <chrono>

#include "volbatch/core/box.h"

namespace volbatch {

class BatchSizer {
 public:
  // `target_s` <= 0 means the default of 2 s (capped by lease / 4).
  explicit BatchSizer(std::chrono::milliseconds lease, double target_s = 0);
  // The next batch's size, after `taken` blocks were handed out over `elapsed_s` seconds
  // (since this worker's first batch). At least 1, at most `limit`.
  Index Next(Index taken, double elapsed_s, Index limit);
  double target_s() const { return target_s_; }

 private:
  double target_s_;
  Index last_ = 0;
};

}  // namespace volbatch
