#include "volbatch/engine/batch_size.h"

#include <algorithm>
#include <cmath>

namespace volbatch {

BatchSizer::BatchSizer(std::chrono::milliseconds lease, double target_s) {
  const double quarter = std::chrono::duration<double>(lease).count() / 4;
  target_s_ = std::max(1e-3, std::min(target_s > 0 ? target_s : 2.0, quarter));
}

Index BatchSizer::Next(Index taken, double elapsed_s, Index limit) {
  Index want = 1;
  if (taken > 0 && elapsed_s > 0) {
    const double rate = static_cast<double>(taken) / elapsed_s;
    want = static_cast<Index>(std::clamp(std::round(rate * target_s_), 1.0, 1e12));
  }
  want = std::min(want, std::max<Index>(1, 4 * last_));
  want = std::clamp<Index>(want, 1, std::max<Index>(1, limit));
  last_ = want;
  return want;
}

}  // namespace volbatch
