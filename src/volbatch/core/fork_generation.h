// Which process this is, as far as fork(2) goes: a counter that every child process increments
// right after fork (a pthread_atfork handler). Objects that keep a mutex and what it guards
// across calls compare it with the value they last saw: in a child forked while another thread
// of the parent held the mutex (a DataLoader worker forked from a process whose loader threads
// were reading), the mutex stays locked forever and what it guarded may be half changed, so
// such an object starts afresh in the child instead (ForkSafe).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

namespace volbatch {

uint64_t ForkGeneration();

// Serializes the afresh-starts of objects in a new child (itself made usable again there).
std::mutex& ForkResetMutex();

// A mutex and the state it guards, rebuilt empty on first use in a forked child. The state
// the parent's threads left behind is abandoned, not destroyed: it may be half changed.
template <typename State>
class ForkSafe {
 public:
  ForkSafe() = default;
  ForkSafe(const ForkSafe&) = delete;
  ForkSafe& operator=(const ForkSafe&) = delete;
  ~ForkSafe() {
    if (generation_.load(std::memory_order_relaxed) == ForkGeneration()) {
      delete mu_;
      delete state_;
    }
  }

  // Runs f(state) under the mutex.
  template <typename F>
  decltype(auto) With(F&& f) const {
    if (generation_.load(std::memory_order_acquire) != ForkGeneration()) Renew();
    std::lock_guard lock(*mu_);
    return f(*state_);
  }

 private:
  void Renew() const {
    std::lock_guard reset(ForkResetMutex());
    if (generation_.load(std::memory_order_relaxed) == ForkGeneration()) return;
    mu_ = new std::mutex;  // the parent's are left as they were (leaked in this child)
    state_ = new State;
    generation_.store(ForkGeneration(), std::memory_order_release);
  }

  mutable std::mutex* mu_ = new std::mutex;
  mutable State* state_ = new State;
  mutable std::atomic<uint64_t> generation_{ForkGeneration()};
};

}  // namespace volbatch
