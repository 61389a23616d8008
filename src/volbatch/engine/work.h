// One worker of N on a prepared job directory (`volbatch work JOBDIR --worker I --of N`): what
// every executor starts, on whatever engine can start N commands.
//
// The worker claims runs of blocks (claims.h): first from its own lane (blocks b with
// b % N == I), then from the lanes of the others that still have runs to give, so that idle
// workers help slow ones and a dead worker's lane is finished by the living; a run is a few
// seconds of this worker's work (batch_size.h). Blocks of a run are nobody else's, so no
// ledger is read per block: the blocks done before are known from the claims generation, and
// the ledgers are read again only when the runs of a dead worker are taken over. Records are
// made durable in groups (group_commit.h). Once every lane is given out the worker takes over
// stale holders, waits while others still compute (they may die), and leaves. SIGTERM
// (RequestStop) makes it take no new block; the blocks in hand finish and are recorded.
#pragma once

#include <chrono>
#include <string>

#include "volbatch/engine/run.h"

namespace volbatch {

struct WorkOptions {
  int worker = 0;  // I
  int of = 1;      // N
  int threads = 0;
  bool quiet = true;
  std::chrono::milliseconds lease{std::chrono::seconds(60)};
  // The metrics endpoint (--metrics-port ...); when absent, the job's [run] metrics_port.
  MetricsSettings metrics;
};

// Runs worker I's share; writes its summary to JOBDIR/summary.worker-IIII.json.
RunSummary WorkJob(const std::string& jobdir, const WorkOptions& options);

}  // namespace volbatch
