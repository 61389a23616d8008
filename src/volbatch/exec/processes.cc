#include "volbatch/exec/processes.h"

#include <filesystem>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/claims.h"
#include "volbatch/exec/worker_pool.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

namespace fs = std::filesystem;

void RemoveOrphans(PreparedJob& prepared) {
  RemoveClaims(prepared.job.jobdir);
  prepared.output->SweepTemporaries();
}

ExecutorResult ResultFromStatus(const std::string& jobdir) {
  ExecutorResult r;
  r.status = JobStatus(jobdir);
  const Index remaining = r.status["blocks_remaining"].get<Index>();
  r.complete = remaining == 0;
  if (!r.complete) r.problem = std::to_string(remaining) + " blocks not done";
  return r;
}

namespace {

ExecutorResult RunProcesses(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  ParamTable table(o.table, 0, "run.processes");
  table.Finish();
  const int workers = ResolveWorkers(o, 2, 4096, "worker processes");
  PreparedJob p = PrepareJob(spec, run);
  const std::string jobdir = p.job.jobdir;
  const std::string exe = WorkerExecutable(o);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = o.threads > 0 ? o.threads : std::max(1, cores / workers);
  WorkerPoolOptions pool;
  pool.workers = workers;
  pool.restarts = o.restarts;
  pool.quiet = o.quiet;
  pool.jobdir = jobdir;
  pool.executor = "processes";
  const WorkerPoolResult r = RunWorkerPool(
      [&](int w) {
        std::vector<std::string> argv = {exe};
        for (auto& a : WorkArguments(jobdir, std::to_string(w), workers, threads, o.lease_s,
                                     spec.run.metrics)) {
          argv.push_back(a);
        }
        return argv;
      },
      pool);
  RemoveOrphans(p);
  ExecutorResult result = ResultFromStatus(jobdir);
  result.restarts = r.restarts;
  if (!r.gave_up.empty()) {
    result.status["gave_up"] = r.gave_up;
    if (!result.complete) result.problem += " (" + r.gave_up + ")";
  }
  return result;
}

ExecutorResult RunLocal(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  ParamTable table(o.table, 0, "run.local");
  table.Finish();
  if (o.workers > 1) {
    throw InvalidArgument("--workers: the local executor runs one worker; use --threads");
  }
  RunOptions r = run;
  if (o.threads > 0) r.threads = o.threads;
  const RunSummary summary = RunJob(spec, r);
  ExecutorResult result;
  result.messages.push_back(summary.ToText());
  result.status = JobStatus(summary.jobdir);
  result.complete = summary.blocks_failed == 0 && !summary.interrupted;
  if (summary.blocks_failed > 0) {
    result.problem = std::to_string(summary.blocks_failed) + " of " +
                     std::to_string(summary.blocks_total) + " blocks failed (" +
                     summary.failures.front().error + ")";
  } else if (summary.interrupted) {
    result.problem = "stopped by SIGTERM";
  }
  return result;
}

}  // namespace

void RegisterProcessesExecutor() { RegisterExecutor("processes", RunProcesses); }
void RegisterLocalExecutor() { RegisterExecutor("local", RunLocal); }

}  // namespace volbatch
