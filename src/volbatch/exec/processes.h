// The processes executor: N local `volbatch work` processes on one job directory. The parent
// prepares the job (job.json, output), starts the workers, restarts one that dies (up to
// `restarts` times in all), forwards SIGTERM to them, and reports from the ledgers.
#pragma once

#include <string>

#include "volbatch/engine/run.h"

namespace volbatch {

// `volbatch work` exits with this when it finished its share but some blocks failed (their
// errors are in its summary and the ledger); any other non-zero exit means it died.
inline constexpr int kWorkBlocksFailed = 4;

struct ProcessesOptions {
  int workers = 2;
  int threads = 0;      // per worker; 0: cores / workers
  int restarts = 10;    // worker restarts allowed in all before giving up
  double lease_s = 60;  // claim lease handed to the workers
  bool quiet = false;
  std::string executable;  // volbatch itself (default: /proc/self/exe)
};

struct ProcessesResult {
  int restarts = 0;       // workers that died and were started again
  nlohmann::json status;  // JobStatus after the workers finished
  bool complete = false;  // every block done
};

ProcessesResult RunWithProcesses(const JobSpec& spec, const RunOptions& run,
                                 const ProcessesOptions& options);

}  // namespace volbatch
