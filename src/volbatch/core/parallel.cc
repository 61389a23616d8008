#include "volbatch/core/parallel.h"

#include <atomic>

namespace volbatch {
namespace {
std::atomic<int> g_thread_limit{0};
}  // namespace

void SetThreadLimit(int threads) { g_thread_limit.store(threads, std::memory_order_relaxed); }
int ThreadLimit() { return g_thread_limit.load(std::memory_order_relaxed); }

}  // namespace volbatch
