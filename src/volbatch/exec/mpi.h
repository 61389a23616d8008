// MPI: `mpirun -np N+1 volbatch work JOBDIR --mpi`. Rank 0 is a work queue: it hands the blocks
// not yet done, on request, to ranks 1..N, which compute them and record them in their own
// ledgers (worker index = rank), so a block is done exactly when a ledger says so. A rank that
// dies takes its blocks in hand with it unrecorded; mpirun then ends the job, and a resume
// (`volbatch run JOB --executor mpi` again, or any executor) computes exactly those.
//
// Messages (all int64): a worker sends REQUEST {n} and gets ASSIGN {up to n blocks} (none: no
// more). n is about 2 s of work at the rank's rate so far and at most a quarter lease (the rule
// a processes worker claims by, BatchSizer); rank 0 gives at most an even share of the blocks
// left (left / workers, rounded up), so that the last blocks spread over every rank. When its
// pipeline has drained, a worker sends FAILED {block} for each block that failed every
// attempt, then FINISHED {blocks done, its CPU microseconds}; once every worker has, rank 0
// writes JOBDIR/summary.mpi.json (with `queue_cpu_s`, its own CPU seconds, and `worker_cpu_s`).
#pragma once

#include <chrono>
#include <string>

#include "volbatch/engine/run.h"

namespace volbatch {

struct MpiWorkOptions {
  int threads = 0;
  bool quiet = true;
  // A rank asks for about 2 s of work at a time, never more than a quarter of this (the rule
  // of a processes worker's claims, whose lease this is).
  std::chrono::milliseconds lease{60000};
  // The compute ranks' metrics endpoints (rank R on PORT + R); unset: the job's own.
  MetricsSettings metrics;
};

// Runs this rank's part (rank 0: the queue; others: blocks). Initialises and finalises MPI.
// Rank 0 returns a summary of the whole job (blocks handed out, done, failed per rank).
RunSummary MpiWork(const std::string& jobdir, const MpiWorkOptions& options);

}  // namespace volbatch
