#include "volbatch/core/fork_generation.h"

#include <pthread.h>

namespace volbatch {
namespace {

std::atomic<uint64_t> g_generation{0};
std::mutex* g_reset = new std::mutex;  // never destroyed: used until the process ends

void InChild() {
  // One thread runs here: whatever the parent's threads held, nothing holds these now.
  g_reset = new std::mutex;
  g_generation.fetch_add(1, std::memory_order_release);
}

const bool g_registered = [] { return ::pthread_atfork(nullptr, nullptr, InChild) == 0; }();

}  // namespace

uint64_t ForkGeneration() { return g_generation.load(std::memory_order_acquire); }

std::mutex& ForkResetMutex() {
  (void)g_registered;
  return *g_reset;
}

}  // namespace volbatch
