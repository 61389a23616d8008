#include "volbatch/remote/retry_policy.h"

#include <algorithm>

namespace volbatch {

Backoff::Backoff(const RetryOptions& options, uint64_t seed) : options_(options), rng_(seed) {}

std::optional<std::chrono::milliseconds> Backoff::NextDelay(std::chrono::milliseconds elapsed) {
  if (attempts_ >= options_.max_attempts) return std::nullopt;
  // Doubling saturates at max_delay long before the shift could overflow.
  const int64_t cap = std::max<int64_t>(options_.max_delay.count(), 1);
  int64_t d = std::max<int64_t>(options_.initial_delay.count(), 1);
  for (int i = 1; i < attempts_ && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  std::uniform_int_distribution<int64_t> jitter(d / 2, d);
  const std::chrono::milliseconds wait(jitter(rng_));
  if (elapsed + wait > options_.total_budget) return std::nullopt;
  ++attempts_;
  return wait;
}

}  // namespace volbatch
