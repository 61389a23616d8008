// ParallelFor: tbb::parallel_for over [first, last) that ThreadSanitizer can check.
//
// oneTBB hands tasks from thread to thread inside libtbb.so, which Debian builds without TSan,
// so TSan sees no happens-before from the code that spawns a task to the thread that runs it,
// nor from a finished task back to the caller; it then reports every read of the caller's data
// in a task body as a race (thousands per test). Under TSan this wrapper states those edges
// (HappensBefore / HappensAfter); without TSan it is exactly tbb::parallel_for. The bodies get no
// edges among themselves, so a race between two bodies is still reported.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <utility>

#include "volbatch/core/sanitizer.h"

#ifdef VOLBATCH_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace volbatch {

// What one thread did before HappensBefore(p) happens before what another thread does after a
// later HappensAfter(p) (no-ops without TSan). For hand-offs through uninstrumented code.
inline void HappensBefore([[maybe_unused]] const void* p) {
#ifdef VOLBATCH_TSAN
  __tsan_release(const_cast<void*>(p));
#endif
}
inline void HappensAfter([[maybe_unused]] const void* p) {
#ifdef VOLBATCH_TSAN
  __tsan_acquire(const_cast<void*>(p));
#endif
}

namespace parallel_internal {

// The range body tbb copies into each task. Every copy is made on the thread that splits the
// range and runs on the thread that takes the task: the copy's own address carries the edge.
template <typename Index, typename F>
class Body {
 public:
  Body(const F& f, const char* done) : f_(f), done_(done) { HappensBefore(this); }
  Body(const Body& other) : f_(other.f_), done_(other.done_) { HappensBefore(this); }
  Body& operator=(const Body&) = delete;

  void operator()(const tbb::blocked_range<Index>& r) const {
    HappensAfter(this);
    try {
      for (Index i = r.begin(); i != r.end(); ++i) f_(i);
    } catch (...) {  // the caller reads the exception
      HappensBefore(done_);
      throw;
    }
    HappensBefore(done_);
  }

 private:
  const F& f_;
  const char* done_;
};

}  // namespace parallel_internal

// A functor that tbb keeps and calls on other threads (a pipeline stage): building it happens
// before every call, as Body does for ParallelFor.
template <typename F>
class Handed {
 public:
  explicit Handed(F f) : f_(std::move(f)) { HappensBefore(this); }
  Handed(const Handed& other) : f_(other.f_) { HappensBefore(this); }
  Handed& operator=(const Handed&) = delete;

  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    HappensAfter(this);
    return f_(std::forward<Args>(args)...);
  }

 private:
  F f_;
};

// The process's thread limit (`--threads`; 0: no limit). At 1, ParallelFor runs its loop on
// the calling thread and never starts libtbb: starting it costs a process ~45 failed metadata
// calls (its dlopen of libirml.so.1 probes every library directory), which 256 one-thread
// workers on a shared filesystem would pay 256 times (issue 16).
void SetThreadLimit(int threads);
int ThreadLimit();

// f(i) for every i in [first, last), in parallel; like tbb::parallel_for(first, last, f).
// A single index, or a limit of one thread, runs inline.
template <typename Index, typename F>
void ParallelFor(Index first, Index last, const F& f) {
  if (!(first < last)) return;
  if (last - first == 1 || ThreadLimit() == 1) {
    for (Index i = first; i != last; ++i) f(i);
    return;
  }
  struct Done {
    char sync = 0;
    ~Done() { HappensAfter(&sync); }  // also when a body threw
  } done;
  tbb::parallel_for(tbb::blocked_range<Index>(first, last),
                    parallel_internal::Body<Index, F>(f, &done.sync));
}

}  // namespace volbatch
