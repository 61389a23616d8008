// The MPI worker, `volbatch work JOBDIR --mpi` (protocol in exec/mpi.h): the only code that
// calls MPI, in its own library (libvolbatch_mpi.so) that `volbatch` opens only for it. Linked
// into the program, Open MPI's seven libraries were loaded by every process that starts, a
// processes or Slurm worker too: ~20 more metadata calls per start, paid once per worker on
// the shared filesystem (issue 16).
#include "volbatch/exec/mpi.h"

// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/batch_size.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/exec/mpi_queue.h"

// Why the ranks poll with pauses. Rank 0 is idle nearly all the time (a request per worker
// every 2 s or so), and a worker waits only for the answer to its request. Open MPI (4.1 here)
// has no wait that sleeps: a blocking MPI_Recv, MPI_Probe or MPI_Wait spins in its progress
// loop, and with mpi_yield_when_idle=1 (its default when ranks outnumber cores) it spins
// calling sched_yield, which gives the core away but still burns it when no one else wants it.
// Rank 0's CPU seconds, measured with /usr/bin/time on 2 shared cores (load 5 to 40 from other
// jobs), one worker with 1 thread, 2 to 5 runs each ("blocking": MPI_Probe and MPI_Wait;
// "+yield": the same with OMPI_MCA_mpi_yield_when_idle=1):
//
//   job (1 worker, 1 thread)                worker  blocking  +yield    pauses     before
//   identity, 32,500 blocks of 8^3 (tmpfs)  0.85    0.85-1.1  0.15-0.9  0.04-0.08  0.18-0.55
//   gaussian sigma 8, 512 blocks of 64^3    6.0     7.2-7.6   3.2-5.3   0.13-0.25  0.21-0.22
//
// ("before": the earlier design, a DONE message per block and 50 us sleeps between polls, at
// most 64 blocks per request.) So both sides poll MPI_Iprobe / MPI_Test with pauses that
// double from 10 us to 1 ms (PollBackoff): an answer that comes at once is seen at once, a
// long wait costs about 1000 polls a second (1-2% of a core on a loaded machine), and a
// request waits at most 1 ms for a sleeping rank 0, against about 2 s of work it asks for. A
// worker tells rank 0 nothing per block (its ledger is the record); the counts come once, at
// the end. Idle ranks waiting in MPI_Finalize for the last one measured no spinning (Open MPI
// waits there with sleeps).

namespace volbatch {
namespace {

namespace fs = std::filesystem;

// MPI_Init_thread / MPI_Finalize around one call, and MPI's errors as volbatch::Error.
class MpiSession {
 public:
  MpiSession() {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
      throw FailedPrecondition("--mpi: MPI_Init failed (run it under mpirun)");
    }
    if (provided < MPI_THREAD_SERIALIZED) {
      MPI_Finalize();
      throw FailedPrecondition("--mpi: this MPI does not allow calls from several threads");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiSession() { MPI_Finalize(); }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
};

void Send(const int64_t* data, int count, int to, MpiTag tag) {
  MPI_Send(data, count, MPI_INT64_T, to, tag, MPI_COMM_WORLD);
}

// This process's CPU time (user + system, all threads) so far.
int64_t CpuMicroseconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return (static_cast<int64_t>(u.ru_utime.tv_sec) + u.ru_stime.tv_sec) * 1000000 +
         u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

// Waits for `request` to complete, polling with pauses (see the top of the file for why).
MPI_Status Wait(MPI_Request* request) {
  MPI_Status st;
  PollBackoff backoff;
  for (int done = 0;;) {
    MPI_Test(request, &done, &st);
    if (done) return st;
    std::this_thread::sleep_for(backoff.Next());
  }
}

// Rank 0: waits for the next message from any rank, polling with pauses.
MPI_Status ProbeAny() {
  MPI_Status st;
  PollBackoff backoff;
  for (int flag = 0;;) {
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (flag) return st;
    std::this_thread::sleep_for(backoff.Next());
  }
}

// Blocks from rank 0, a batch per request: as many as this rank computes in about 2 s (at
// most a quarter lease), by the rule a processes worker claims with (BatchSizer), so that tiny
// blocks cost one round trip per thousands and large ones still go one at a time. Next() runs
// on the pipeline's serial input stage only, so the MPI calls here never overlap (Finished(),
// on another stage, sends nothing: rank 0 learns the counts when the rank is finished).
class QueueSource final : public BlockSource {
 public:
  explicit QueueSource(std::chrono::milliseconds lease) : sizer_(lease) {}

  std::optional<Index> Next() override {
    if (StopRequested()) return std::nullopt;
    if (local_.empty() && !drained_) Fetch();
    if (local_.empty()) return std::nullopt;
    const Index b = local_.front();
    local_.pop_front();
    return b;
  }
  std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
    // A block that failed is tried again by the rank that had it, without the queue.
    return std::make_unique<ListSource>(failed);
  }

 private:
  void Fetch() {
    const auto now = std::chrono::steady_clock::now();
    if (taken_ == 0) first_request_ = now;
    const int64_t want =
        sizer_.Next(taken_, std::chrono::duration<double>(now - first_request_).count(), kMaxBatch);
    std::vector<int64_t> blocks(static_cast<size_t>(want));
    MPI_Request req;
    MPI_Irecv(blocks.data(), static_cast<int>(want), MPI_INT64_T, 0, kAssign, MPI_COMM_WORLD, &req);
    Send(&want, 1, 0, kRequest);
    const MPI_Status st = Wait(&req);
    int got = 0;
    MPI_Get_count(&st, MPI_INT64_T, &got);
    if (got == 0) drained_ = true;
    taken_ += got;
    local_.insert(local_.end(), blocks.begin(), blocks.begin() + got);
  }

  BatchSizer sizer_;
  std::deque<Index> local_;
  bool drained_ = false;
  Index taken_ = 0;
  std::chrono::steady_clock::time_point first_request_;
};

RunSummary Coordinate(const std::string& jobdir, int workers) {
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json status = JobStatus(jobdir);
  const Index total = status["blocks_total"].get<Index>();
  const LedgerState state = ReadLedgers(jobdir);
  std::vector<Index> todo;
  for (Index b = 0; b < total; ++b) {
    if (!state.IsDone(b)) todo.push_back(b);
  }
  BlockQueue queue(std::move(todo), workers);
  RunSummary s;
  s.jobdir = jobdir;
  s.blocks_total = total;
  s.blocks_skipped = total - queue.remaining();
  std::vector<double> worker_cpu_s(static_cast<size_t>(workers), 0.0);
  for (int finished = 0; finished < workers;) {
    const MPI_Status st = ProbeAny();
    int count = 0;
    MPI_Get_count(&st, MPI_INT64_T, &count);
    CheckMpiMessage(st.MPI_SOURCE, st.MPI_TAG, count);
    int64_t msg[2] = {0, 0};
    MPI_Recv(msg, count, MPI_INT64_T, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (st.MPI_TAG == kRequest) {
      // None (an empty batch) means there are no more; after a SIGTERM, none either.
      const std::vector<int64_t> blocks =
          StopRequested() ? std::vector<int64_t>() : queue.Take(msg[0]);
      MPI_Send(blocks.data(), static_cast<int>(blocks.size()), MPI_INT64_T, st.MPI_SOURCE, kAssign,
               MPI_COMM_WORLD);
    } else if (st.MPI_TAG == kFailed) {
      ++s.blocks_failed;
      s.failures.push_back({msg[0], "", "failed on rank " + std::to_string(st.MPI_SOURCE)});
    } else if (st.MPI_TAG == kFinished) {
      s.blocks_done += msg[0];
      if (st.MPI_SOURCE >= 1 && st.MPI_SOURCE <= workers) {
        worker_cpu_s[static_cast<size_t>(st.MPI_SOURCE - 1)] = static_cast<double>(msg[1]) / 1e6;
      }
      ++finished;
    }
  }
  s.interrupted = StopRequested();
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json j = s.ToJson();
  j["queue_cpu_s"] = static_cast<double>(CpuMicroseconds()) / 1e6;
  j["worker_cpu_s"] = worker_cpu_s;
  JobDir(jobdir).WriteJson("summary.mpi.json", j);
  return s;
}

RunSummary MpiWorkInProcess(const std::string& jobdir_in, const MpiWorkOptions& o) {
  const std::string jobdir = fs::absolute(jobdir_in).lexically_normal().string();
  if (!JobDir(jobdir).ReadJob()) throw NotFound(jobdir + ": not a job directory (no job.json)");
  if (o.lease <= std::chrono::milliseconds(0)) throw InvalidArgument("--lease: must be positive");
  MpiSession mpi;
  if (mpi.size() < 2) {
    throw InvalidArgument("--mpi: needs at least 2 ranks (rank 0 hands out the blocks), got " +
                          std::to_string(mpi.size()));
  }
  if (mpi.rank() == 0) return Coordinate(jobdir, mpi.size() - 1);
  PreparedJob p = OpenPreparedJob(jobdir, o.threads);
  if (o.metrics.port) p.job.spec.run.metrics = o.metrics;
  RunOptions ro;
  ro.worker = mpi.rank();
  ro.quiet = o.quiet;
  char name[48];
  std::snprintf(name, sizeof(name), "summary.worker-%04d.json", mpi.rank());
  RunSummary s = ExecuteBlocks(
      p, ro,
      [&](Index) -> std::unique_ptr<BlockSource> { return std::make_unique<QueueSource>(o.lease); },
      name);
  for (const BlockFailure& f : s.failures) Send(&f.block, 1, 0, kFailed);
  const int64_t finished[2] = {s.blocks_done, CpuMicroseconds()};
  Send(finished, 2, 0, kFinished);
  return s;
}

}  // namespace

}  // namespace volbatch

// The entry `volbatch` looks up (exec/mpi.cc, MpiWork); its errors are volbatch::Error.
extern "C" void volbatch_mpi_work(const std::string* jobdir,
                                  const volbatch::MpiWorkOptions* options,
                                  volbatch::RunSummary* summary) {
  *summary = volbatch::MpiWorkInProcess(*jobdir, *options);
}
