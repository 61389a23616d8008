#include "volbatch/exec/mpi.h"

// The C API only: Open MPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/ledger_progress.h"
#include "volbatch/exec/processes.h"
#include "volbatch/exec/worker_pool.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

enum Tag : int { kRequest = 1, kAssign = 2, kDone = 3, kFinished = 4 };

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

void Send(const int64_t* data, int count, int to, Tag tag) {
  MPI_Send(data, count, MPI_INT64_T, to, tag, MPI_COMM_WORLD);
}

// Blocks from rank 0, one per Next(). Next() and Finished() run on different pipeline stages
// (possibly different threads at once): one mutex serialises the MPI calls.
class QueueSource final : public BlockSource {
 public:
  std::optional<Index> Next() override {
    if (StopRequested()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    if (local_.empty() && !drained_) Fetch();
    if (local_.empty()) return std::nullopt;
    const Index b = local_.front();
    local_.pop_front();
    return b;
  }
  void Finished(Index block, bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++finished_;
    const int64_t msg[2] = {block, ok ? 1 : 0};
    Send(msg, 2, 0, kDone);
  }
  std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
    return std::make_unique<LocalRetry>(failed);
  }

 private:
  // Asks rank 0 for as many blocks as this rank computes in about 20 ms (at least one, at
  // most 64): tiny blocks do not pay a round trip each, and large ones stay one at a time so
  // the last blocks spread over every rank.
  void Fetch() {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    int64_t want = 1;
    if (finished_ > 0) {
      want = std::clamp<int64_t>(
          static_cast<int64_t>(0.02 * static_cast<double>(finished_) / std::max(elapsed, 1e-6)), 1,
          64);
    }
    Send(&want, 1, 0, kRequest);
    std::vector<int64_t> blocks(static_cast<size_t>(want));
    MPI_Request req;
    MPI_Irecv(blocks.data(), static_cast<int>(want), MPI_INT64_T, 0, kAssign, MPI_COMM_WORLD, &req);
    // Poll rather than block: Open MPI's blocking receive spins a core, which the block
    // pipeline's own threads need.
    MPI_Status st;
    for (int done = 0;;) {
      MPI_Test(&req, &done, &st);
      if (done) break;
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    int got = 0;
    MPI_Get_count(&st, MPI_INT64_T, &got);
    if (got == 0) drained_ = true;
    for (int i = 0; i < got; ++i) local_.push_back(blocks[static_cast<size_t>(i)]);
  }

  // A block that failed is tried again by the rank that had it, without the queue.
  class LocalRetry final : public BlockSource {
   public:
    explicit LocalRetry(std::vector<Index> blocks) : blocks_(std::move(blocks)) {}
    std::optional<Index> Next() override {
      if (StopRequested() || next_ >= blocks_.size()) return std::nullopt;
      return blocks_[next_++];
    }
    std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
      return std::make_unique<LocalRetry>(failed);
    }

   private:
    std::vector<Index> blocks_;
    size_t next_ = 0;
  };
  std::mutex mu_;
  std::deque<Index> local_;
  bool drained_ = false;
  int64_t finished_ = 0;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

RunSummary Coordinate(const std::string& jobdir, int workers) {
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json status = JobStatus(jobdir);
  const Index total = status["blocks_total"].get<Index>();
  const LedgerState state = ReadLedgers(jobdir);
  std::deque<Index> todo;
  for (Index b = 0; b < total; ++b) {
    if (!state.IsDone(b)) todo.push_back(b);
  }
  RunSummary s;
  s.jobdir = jobdir;
  s.blocks_total = total;
  s.blocks_skipped = total - static_cast<Index>(todo.size());
  int finished = 0;
  while (finished < workers) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    int64_t msg[2] = {0, 0};
    int count = 0;
    MPI_Get_count(&st, MPI_INT64_T, &count);
    MPI_Recv(msg, std::min(count, 2), MPI_INT64_T, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    if (st.MPI_TAG == kRequest) {
      // Up to msg[0] blocks; none means there are no more.
      std::vector<int64_t> blocks;
      while (!StopRequested() && !todo.empty() &&
             static_cast<int64_t>(blocks.size()) < std::clamp<int64_t>(msg[0], 1, 64)) {
        blocks.push_back(todo.front());
        todo.pop_front();
      }
      MPI_Send(blocks.data(), static_cast<int>(blocks.size()), MPI_INT64_T, st.MPI_SOURCE, kAssign,
               MPI_COMM_WORLD);
    } else if (st.MPI_TAG == kDone) {
      if (msg[1]) {
        ++s.blocks_done;
      } else {
        ++s.blocks_failed;
        s.failures.push_back({msg[0], "", "failed on rank " + std::to_string(st.MPI_SOURCE)});
      }
    } else if (st.MPI_TAG == kFinished) {
      ++finished;
    }
  }
  s.interrupted = StopRequested();
  s.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JobDir(jobdir).WriteJson("summary.mpi.json", s.ToJson());
  return s;
}

}  // namespace

RunSummary MpiWork(const std::string& jobdir_in, const MpiWorkOptions& o) {
  const std::string jobdir = fs::absolute(jobdir_in).lexically_normal().string();
  if (!JobDir(jobdir).ReadJob()) throw NotFound(jobdir + ": not a job directory (no job.json)");
  MpiSession mpi;
  if (mpi.size() < 2) {
    throw InvalidArgument("--mpi: needs at least 2 ranks (rank 0 hands out the blocks), got " +
                          std::to_string(mpi.size()));
  }
  if (mpi.rank() == 0) return Coordinate(jobdir, mpi.size() - 1);
  PreparedJob p = OpenPreparedJob(jobdir, o.threads);
  RunOptions ro;
  ro.worker = mpi.rank();
  ro.quiet = o.quiet;
  char name[48];
  std::snprintf(name, sizeof(name), "summary.worker-%04d.json", mpi.rank());
  RunSummary s = ExecuteBlocks(
      p, ro, [](Index) -> std::unique_ptr<BlockSource> { return std::make_unique<QueueSource>(); },
      name);
  const int64_t none = 0;
  Send(&none, 1, 0, kFinished);
  return s;
}

namespace {

ExecutorResult RunMpi(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  ParamTable t(o.table, 0, "run.mpi");
  const std::string mpirun = t.String("mpirun", "mpirun");
  std::vector<std::string> extra;
  if (const auto* a = t.Raw("args")) {
    if (!a->is_array()) throw t.Bad("args", "must be a list of mpirun arguments");
    for (const auto& v : *a) {
      if (!v.is_string()) throw t.Bad("args", v.dump() + " is not a string");
      extra.push_back(v.get<std::string>());
    }
  }
  const bool oversubscribe = t.Bool("oversubscribe", true);
  t.Finish();
  const int workers = ResolveWorkers(o, 2, 65535, "MPI workers");
  if (!OnPath(mpirun)) {
    throw FailedPrecondition("--executor mpi: " + mpirun + " is not on PATH ([run.mpi] mpirun)");
  }
  RunOptions prepare = run;
  prepare.claims = false;  // rank 0's queue hands out the blocks
  PreparedJob p = PrepareJob(spec, prepare);
  const std::string jobdir = p.job.jobdir;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = o.threads > 0 ? o.threads : std::max(1, cores / workers);
  std::vector<std::string> argv = {mpirun, "-np", std::to_string(workers + 1)};
  for (auto& a : extra) argv.push_back(a);
  for (const std::string& a :
       {WorkerExecutable(o), std::string("work"), jobdir, std::string("--mpi"),
        std::string("--quiet"), std::string("--threads"), std::to_string(threads)}) {
    argv.push_back(a);
  }
  // Open MPI's defaults for a job launched here: root may run it (containers), more ranks than
  // cores are allowed, and ranks are not pinned to one core each (a rank runs `threads`).
  if (::geteuid() == 0) {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  if (oversubscribe) ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
  ::setenv("OMPI_MCA_hwloc_base_binding_policy", "none", 0);

  WorkerPoolOptions pool;
  pool.workers = 1;
  pool.restarts = 0;
  pool.quiet = o.quiet;
  pool.jobdir = jobdir;
  pool.executor = "mpi";
  const WorkerPoolResult r = RunWorkerPool([&](int) { return argv; }, pool);
  RemoveOrphans(p);
  ExecutorResult result = ResultFromStatus(jobdir);
  result.messages.push_back("ran " + std::to_string(workers) + " MPI workers and a queue rank");
  if (!r.gave_up.empty() || !result.complete) {
    const std::string why = r.exit_code != 0 ? "mpirun ended with " + r.how_it_ended +
                                                   " (a rank failed; see "
                                                   "mpirun's message above)"
                                             : "mpirun ended";
    result.problem = why + "; " + result.problem;
    result.status["gave_up"] = why;
  }
  return result;
}

}  // namespace

void RegisterMpiExecutor() { RegisterExecutor("mpi", RunMpi); }

}  // namespace volbatch
