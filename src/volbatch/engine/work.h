// One worker of N on a prepared job directory (`volbatch work JOBDIR --worker I --of N`): what
// every executor starts, on whatever engine can start N commands.
//
// The worker takes blocks in this order: its own stride (blocks b with b % N == I), then the
// blocks of the others, starting after its own stride, so that idle workers help slow ones
// and a dead worker's blocks are finished by the living. A block is claimed before it is
// read (claims.h) and checked against everyone's ledger once claimed, so a block is computed
// once unless a claim expired under a stopped worker; its ledger record is appended before
// the claim is released. A worker leaves when every block is done, failed in this run, or
// held by a live claim of a worker that is not finished. SIGTERM (RequestStop) makes it take
// no new block; the blocks in hand finish and are recorded.
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
};

// Runs worker I's share; writes its summary to JOBDIR/summary.worker-IIII.json.
RunSummary WorkJob(const std::string& jobdir, const WorkOptions& options);

}  // namespace volbatch
