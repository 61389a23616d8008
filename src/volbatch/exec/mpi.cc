#include "volbatch/exec/mpi.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/core/plugin_library.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/processes.h"
#include "volbatch/exec/worker_pool.h"

namespace volbatch {

RunSummary MpiWork(const std::string& jobdir, const MpiWorkOptions& options) {
  // The MPI side lives in libvolbatch_mpi.so (mpi/mpi_work.cc), opened only here.
  static void* const library = OpenPluginLibrary("libvolbatch_mpi.so", "--mpi");
  if (!library) {
    throw Unsupported(
        "--mpi: libvolbatch_mpi.so is not beside volbatch or its libraries (searched: "
        "VOLBATCH_PLUGIN_PATH, the program's directory, ../lib/volbatch, the libraries' "
        "directory)");
  }
  using Entry = void (*)(const std::string*, const MpiWorkOptions*, RunSummary*);
  auto entry = reinterpret_cast<Entry>(::dlsym(library, "volbatch_mpi_work"));
  if (!entry) throw Unsupported("--mpi: libvolbatch_mpi.so has no volbatch_mpi_work()");
  RunSummary summary;
  entry(&jobdir, &options, &summary);
  return summary;
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
        std::string("--quiet"), std::string("--threads"), std::to_string(threads),
        std::string("--lease"), std::to_string(o.lease_s)}) {
    argv.push_back(a);
  }
  for (auto& a : MetricsArguments(spec.run.metrics)) argv.push_back(a);
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
