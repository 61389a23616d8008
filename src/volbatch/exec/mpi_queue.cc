#include "volbatch/exec/mpi_queue.h"

#include <algorithm>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {

int MpiMessageLength(int tag) {
  switch (tag) {
    case kRequest:  // {blocks wanted}
    case kFailed:   // {block}
      return 1;
    case kFinished:  // {blocks done, CPU microseconds}
      return 2;
    default:
      return -1;
  }
}

void CheckMpiMessage(int source, int tag, int count) {
  const int expected = MpiMessageLength(tag);
  if (expected < 0) {
    throw DataLoss("--mpi: rank " + std::to_string(source) + " sent a message with tag " +
                   std::to_string(tag) + ", which the block queue does not know");
  }
  if (count != expected) {
    throw DataLoss("--mpi: rank " + std::to_string(source) + " sent " + std::to_string(count) +
                   " values with tag " + std::to_string(tag) + ", expected " +
                   std::to_string(expected));
  }
}

std::vector<int64_t> BlockQueue::Take(int64_t want) {
  const Index left = remaining();
  const Index share = (left + workers_ - 1) / workers_;
  const Index n = std::min(std::clamp<Index>(want, 1, kMaxBatch), share);
  const auto first = todo_.begin() + static_cast<std::ptrdiff_t>(next_);
  std::vector<int64_t> blocks(first, first + n);
  next_ += static_cast<size_t>(n);
  return blocks;
}

std::chrono::microseconds PollBackoff::Next() {
  pause_ = pause_ < kFirst ? kFirst : std::min(2 * pause_, kLongest);
  return pause_;
}

}  // namespace volbatch
