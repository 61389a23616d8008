// Progress: one line on a terminal ("blocks 12/64  18.8%  45.2 Mvox/s  ETA 0:32"), redrawn at
// most a few times a second; silent when stderr is not a terminal or when asked to be quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace volbatch {

class Progress {
 public:
  Progress(int64_t total_blocks, int64_t already_done, bool enabled);
  // A block finished (or failed) with `voxels` output voxels.
  void Add(int64_t voxels, bool failed);
  // Erases the line.
  void Finish();

 private:
  void Draw(bool force);
  std::mutex mu_;
  int64_t total_, done_, failed_ = 0, voxels_ = 0, session_blocks_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace volbatch
