#include "volbatch/engine/worker_metrics.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#ifndef VOLBATCH_VERSION
#define VOLBATCH_VERSION "unknown"
#endif

namespace volbatch {

const char* VolbatchVersion() { return VOLBATCH_VERSION; }

ProcessStats ParseProcStat(std::string_view stat, double ticks_per_s, int64_t page_bytes,
                           double boot_time_s) {
  ProcessStats p;
  // "pid (comm) state ...": comm may hold spaces and parentheses; fields count from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return p;
  std::istringstream in{std::string(stat.substr(close + 2))};
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() < 22) return p;
  auto num = [&](int field) { return std::stod(f[static_cast<size_t>(field - 3)]); };
  p.cpu_seconds = (num(14) + num(15)) / ticks_per_s;  // utime + stime
  p.threads = static_cast<int64_t>(num(20));
  p.start_time_s = boot_time_s + num(22) / ticks_per_s;
  p.virtual_bytes = static_cast<int64_t>(num(23));
  p.resident_bytes = static_cast<int64_t>(num(24)) * page_bytes;
  return p;
}

ProcessStats ReadProcessStats() {
  static const double boot = [] {
    std::ifstream s("/proc/stat");
    for (std::string line; std::getline(s, line);) {
      if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
    }
    return 0.0;
  }();
  std::ifstream in("/proc/self/stat");
  std::string stat;
  std::getline(in, stat);
  try {
    return ParseProcStat(stat, static_cast<double>(::sysconf(_SC_CLK_TCK)), ::sysconf(_SC_PAGESIZE),
                         boot);
  } catch (const std::exception&) {
    return {};
  }
}

BlockRate::BlockRate(std::chrono::seconds window) : window_(window) {
  samples_.emplace_back(std::chrono::steady_clock::now(), 0);
}

double BlockRate::Update(int64_t done, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  // Keep the newest sample at least a window old, as the rate's base.
  while (samples_.size() > 1 && now - samples_[1].first >= window_) samples_.pop_front();
  const auto& [t0, n0] = samples_.front();
  const double dt = std::chrono::duration<double>(now - t0).count();
  samples_.emplace_back(now, done);
  return dt > 0 ? static_cast<double>(done - n0) / dt : 0;
}

std::string RenderWorkerMetrics(const RunCounters& c, const MetricLabels& labels,
                                const ProcessStats& process, double block_rate) {
  auto get = [](const std::atomic<int64_t>& a) {
    return static_cast<double>(a.load(std::memory_order_relaxed));
  };
  PrometheusText t(labels);
  t.Counter("volbatch_blocks_done_total", "Blocks this worker process computed and recorded done.",
            get(c.blocks_done));
  t.Counter("volbatch_blocks_failed_total",
            "Block attempts that failed in this worker process (retries included).",
            get(c.blocks_failed));
  t.Counter("volbatch_blocks_claimed_total", "Blocks this worker process took to compute.",
            get(c.blocks_claimed));
  t.Counter("volbatch_read_voxels_total", "Input voxels read (decoded, before padding).",
            get(c.voxels_read));
  t.Counter("volbatch_written_voxels_total", "Output voxels written (channels included).",
            get(c.voxels));
  t.Counter("volbatch_read_bytes_total", "Input bytes read (decoded).", get(c.bytes_read));
  t.Counter("volbatch_written_bytes_total", "Output bytes written (decoded).",
            get(c.bytes_written));
  t.Family("volbatch_stage_seconds_total", "counter",
           "Thread-seconds spent per pipeline stage: read, compute, write.");
  t.Sample("volbatch_stage_seconds_total", get(c.read_ns) / 1e9, {{"stage", "read"}});
  t.Sample("volbatch_stage_seconds_total", get(c.compute_ns) / 1e9, {{"stage", "compute"}});
  t.Sample("volbatch_stage_seconds_total", get(c.write_ns) / 1e9, {{"stage", "write"}});
  t.Gauge("volbatch_block_rate", "Blocks per second this worker finished over about the last 30 s.",
          block_rate);
  t.Gauge("volbatch_blocks_in_job", "Blocks in the whole job.", get(c.job_blocks));
  t.Gauge("volbatch_blocks_done_before",
          "Blocks of the job already done when this worker process started.",
          get(c.job_blocks_done_before));
  t.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
          static_cast<double>(process.resident_bytes));
  t.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
          static_cast<double>(process.virtual_bytes));
  t.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            process.cpu_seconds);
  t.Gauge("process_threads", "Threads in the process.", static_cast<double>(process.threads));
  t.Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
          process.start_time_s);
  t.Gauge("volbatch_build_info", "The volbatch build: 1, with its version as a label.", 1,
          {{"version", VolbatchVersion()}});
  return t.str();
}

}  // namespace volbatch
