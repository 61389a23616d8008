// What one worker process tells Prometheus: the run's tallies (blocks, voxels, bytes, seconds
// per stage), the current block rate and the process's memory, CPU and threads, as the text
// its /metrics endpoint serves. The pipeline adds to the tallies with relaxed atomic adds; the
// endpoint reads them when scraped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

#include "volbatch/engine/prometheus_text.h"

namespace volbatch {

// The engine's per-process tallies. Counters only grow; a new process starts at 0 (which
// Prometheus's rate() and increase() read as a counter reset).
struct RunCounters {
  std::atomic<int64_t> read_ns{0}, compute_ns{0}, write_ns{0};
  std::atomic<int64_t> bytes_read{0}, bytes_written{0};
  std::atomic<int64_t> voxels_read{0}, voxels{0};  // voxels: written, channels included
  std::atomic<int64_t> blocks_done{0}, blocks_failed{0}, blocks_claimed{0};
  // Gauges set when a run starts: the job's blocks, and those done before this process began.
  std::atomic<int64_t> job_blocks{0}, job_blocks_done_before{0};
};

struct ProcessStats {
  double cpu_seconds = 0;      // user + system
  int64_t resident_bytes = 0;  // RSS now
  int64_t virtual_bytes = 0;
  int64_t threads = 0;
  double start_time_s = 0;  // since the Unix epoch
};
// This process's, from /proc/self/stat (zeros where it cannot be read).
ProcessStats ReadProcessStats();
// The fields of a /proc/<pid>/stat text, given the clock ticks per second, the page size and
// the boot time (seconds since the epoch). For tests.
ProcessStats ParseProcStat(std::string_view stat, double ticks_per_s, int64_t page_bytes,
                           double boot_time_s);

// Blocks per second over about the last `window`, from the done count seen at each scrape
// (the first scrape's rate is over the time since the counter was made).
class BlockRate {
 public:
  explicit BlockRate(std::chrono::seconds window = std::chrono::seconds(30));
  double Update(int64_t done, std::chrono::steady_clock::time_point now);

 private:
  using Sample = std::pair<std::chrono::steady_clock::time_point, int64_t>;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::deque<Sample> samples_;
};

// The worker's exposition; `labels` (volbatch_job, worker) go on every sample.
std::string RenderWorkerMetrics(const RunCounters& c, const MetricLabels& labels,
                                const ProcessStats& process, double block_rate);

// The version the build-info metric reports.
const char* VolbatchVersion();

}  // namespace volbatch
