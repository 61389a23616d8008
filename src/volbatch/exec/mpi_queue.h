// The parts of the MPI executor (mpi.h) that need no MPI, so that they can be tested alone:
// the messages' tags and sizes, the queue rank 0 hands blocks from, and the pauses between
// polls for a message that has not arrived.
#pragma once

#include <algorithm>
#include <chrono>
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

// The pauses of one wait for a message: they double from kFirst to kLongest, so that an answer
// that comes at once is seen at once, and a rank that waits long polls about 1000 times a
// second (1-2% of a core, measured) while a message that arrives meanwhile waits at most
// kLongest. See mpi.cc for why the ranks poll at all.
class PollBackoff {
 public:
  static constexpr std::chrono::microseconds kFirst{10};
  static constexpr std::chrono::microseconds kLongest{1000};
  // The pause before the next poll.
  std::chrono::microseconds Next();

 private:
  std::chrono::microseconds pause_{0};
};

}  // namespace volbatch
