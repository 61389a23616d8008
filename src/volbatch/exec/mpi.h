// MPI: `mpirun -np N+1 volbatch work JOBDIR --mpi`. Rank 0 is a work queue: it hands the blocks
// not yet done, on request, to ranks 1..N, which compute them and record them in their own
// ledgers (worker index = rank), so a block is done exactly when a ledger says so. A rank that
// dies takes its blocks in hand with it unrecorded; mpirun then ends the job, and a resume
// (`volbatch run JOB --executor mpi` again, or any executor) computes exactly those.
//
// Messages (all int64): a worker sends REQUEST {n} and gets ASSIGN {up to n blocks} (none: no
// more; n grows so that one request covers about 20 ms of work); after recording a block it
// sends DONE {block, ok}; when its pipeline has drained, FINISHED {}.
#pragma once

#include <string>

#include "volbatch/engine/run.h"

namespace volbatch {

struct MpiWorkOptions {
  int threads = 0;
  bool quiet = true;
};

// Runs this rank's part (rank 0: the queue; others: blocks). Initialises and finalises MPI.
// Rank 0 returns a summary of the whole job (blocks handed out, done, failed per rank).
RunSummary MpiWork(const std::string& jobdir, const MpiWorkOptions& options);

}  // namespace volbatch
