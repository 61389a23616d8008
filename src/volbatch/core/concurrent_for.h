// ConcurrentFor: f(i) for i in [0, n) on up to `width` threads of its own, for work that waits
// (requests to an object store, tens of milliseconds each) rather than computes. libtbb's pool
// has as many threads as cores and is the wrong tool there: 2 cores would keep 2 requests in
// flight where an object store needs 32 or more to move data at its rate.
#pragma once

#include <cstddef>
#include <functional>

namespace volbatch {

// Runs every index once; returns when all have run. The first exception a body throws is
// rethrown on the caller after the others finish (no new index starts once one has thrown).
// width <= 1, or n <= 1, runs on the caller.
void ConcurrentFor(size_t n, int width, const std::function<void(size_t)>& f);

}  // namespace volbatch
