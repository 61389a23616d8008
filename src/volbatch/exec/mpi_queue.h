// The parts of the MPI executor (mpi.h) that need no MPI, so that they can be tested alone:
// the messages' tags and sizes, and the queue rank 0 hands blocks from.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

// Messages between the ranks, all int64 (see mpi.h for the protocol).
enum MpiTag : int { kRequest = 1, kAssign = 2, kFailed = 3, kFinished = 4 };

// The most blocks one request gets: bounds the receive buffer a worker posts (8 MiB).
inline constexpr int64_t kMaxBatch = int64_t{1} << 20;

// How many int64 values a message to rank 0 with `tag` carries, or -1 for a tag rank 0 never
// receives.
int MpiMessageLength(int tag);

// Throws volbatch::Error (data loss) unless a message from `source` with `tag` holds the
// values its tag says: a mismatch is a bug or a foreign program in the communicator, and a
// receive into too small a buffer would abort the whole job without a word.
void CheckMpiMessage(int source, int tag, int count);

// The blocks not done when rank 0 started, handed out in order to `workers` ranks.
class BlockQueue {
 public:
  BlockQueue(std::vector<Index> todo, int workers)
      : todo_(std::move(todo)), workers_(std::max(1, workers)) {}
  // The next `want` blocks (at least 1, at most kMaxBatch, whatever `want` says), but no more
  // than an even share of those left (remaining / workers, rounded up): a worker asks for
  // seconds of work, and near the end that would leave the others idle while it finishes
  // alone. None when every block is handed out.
  std::vector<int64_t> Take(int64_t want);
  Index remaining() const { return static_cast<Index>(todo_.size() - next_); }

 private:
  std::vector<Index> todo_;
  size_t next_ = 0;
  int workers_;
};

}  // namespace volbatch
