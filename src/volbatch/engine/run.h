// Running a job in this process: resolve it, prepare (or resume) its job directory and output,
// compute statistics once, then stream the blocks through a bounded read -> compute -> write
// pipeline, recording each block in the ledger only after its chunks are durable.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/engine/job.h"

namespace volbatch {

struct RunOptions {
  int threads = 0;      // overrides [run] threads when > 0
  bool force = false;   // start over: forget done blocks, write into an existing output
  bool resume = false;  // require an existing job directory
  bool quiet = false;   // no progress line
  int worker = 0;       // this process's ledger
};

struct BlockFailure {
  Index block = 0;
  std::string region;
  std::string error;
};

struct RunSummary {
  std::string jobdir;
  Index blocks_total = 0;
  Index blocks_skipped = 0;  // done by an earlier run
  Index blocks_done = 0;     // done by this run
  Index blocks_failed = 0;
  int64_t voxels = 0;         // output voxels written by this run (channels included)
  int64_t bytes_read = 0;     // decoded input bytes
  int64_t bytes_written = 0;  // decoded output bytes
  double wall_s = 0, read_s = 0, compute_s = 0, write_s = 0, statistics_s = 0;
  int threads = 0, blocks_in_flight = 0;
  Shape block;
  int64_t peak_rss_bytes = 0;
  std::vector<BlockFailure> failures;
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// Runs every block not yet done. Throws volbatch::Error for a job that cannot start; block
// failures are reported in the summary (and recorded in the ledger), not thrown.
RunSummary RunJob(const JobSpec& spec, const RunOptions& options);

// `volbatch status`: what the job directory's ledgers say.
nlohmann::json JobStatus(const std::string& jobdir);
std::string JobStatusText(const nlohmann::json& status);

}  // namespace volbatch
