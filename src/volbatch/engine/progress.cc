#include "volbatch/engine/progress.h"

#include <cstdio>

namespace volbatch {

Progress::Progress(int64_t total_blocks, int64_t already_done, bool enabled)
    : total_(total_blocks),
      done_(already_done),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

void Progress::Add(int64_t voxels, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed) {
    ++failed_;
  } else {
    ++done_;
    voxels_ += voxels;
  }
  ++session_blocks_;
  Draw(false);
}

void Progress::Draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(voxels_) / secs : 0;
  const int64_t left = total_ - done_ - failed_;
  const double per_block = session_blocks_ > 0 ? secs / static_cast<double>(session_blocks_) : 0;
  const int64_t eta = static_cast<int64_t>(per_block * static_cast<double>(left));
  std::fprintf(stderr, "\r\033[Kblocks %lld/%lld  %.1f%%  %.1f Mvox/s  ETA %lld:%02lld%s",
               static_cast<long long>(done_), static_cast<long long>(total_),
               total_ ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0,
               rate / 1e6, static_cast<long long>(eta / 60), static_cast<long long>(eta % 60),
               failed_ ? ("  failed " + std::to_string(failed_)).c_str() : "");
  std::fflush(stderr);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace volbatch
