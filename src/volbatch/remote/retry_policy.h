// When to try a failed remote request again: capped exponential backoff with jitter, within a
// budget of attempts and of total time. Jitter spreads the retries of many workers that failed
// together (a server restart, S3's SlowDown) so they do not return in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace volbatch {

struct RetryOptions {
  int max_attempts = 6;                           // first try included
  std::chrono::milliseconds initial_delay{100};   // before the second attempt, at most
  std::chrono::milliseconds max_delay{5000};      // no single wait is longer
  std::chrono::milliseconds total_budget{60000};  // no retry starts after this much time
};

// One request's retry state. Not thread-safe: each request has its own.
class Backoff {
 public:
  explicit Backoff(const RetryOptions& options, uint64_t seed = std::random_device{}());

  // The wait before the next attempt, given the time spent since the first one started; nullopt
  // when the budget is spent (attempts made, or the wait would end past the time budget). The
  // n-th wait is uniform in [d/2, d] with d = min(initial_delay * 2^(n-1), max_delay).
  std::optional<std::chrono::milliseconds> NextDelay(std::chrono::milliseconds elapsed);

  int attempts() const { return attempts_; }

 private:
  RetryOptions options_;
  std::mt19937_64 rng_;
  int attempts_ = 1;  // the first attempt has been made when anyone asks for a delay
};

}  // namespace volbatch
