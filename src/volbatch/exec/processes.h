// The processes executor: N local `volbatch work` processes on one job directory. The parent
// prepares the job (job.json, output), runs the workers as a pool (worker_pool.h: progress,
// restarts, SIGTERM forwarded) and reports from the ledgers.
#pragma once

#include "volbatch/engine/run.h"
#include "volbatch/exec/executor.h"

namespace volbatch {

// After every worker of a pool has exited: a claim still on disk belongs to one killed after
// recording its block (or while computing it), and a temporary beside a chunk to one killed
// mid-write; neither has an owner any more.
void RemoveOrphans(PreparedJob& prepared);

// The job's status as an ExecutorResult (complete when no block remains).
ExecutorResult ResultFromStatus(const std::string& jobdir);

}  // namespace volbatch
