// Executors run a job's workers on an engine a site already has. Every one of them prepares
// the job directory here (job.json, the output) and then, somewhere, starts N commands
// `volbatch work JOBDIR --worker I --of N`; the job directory on a shared filesystem is the
// only thing they share, so `volbatch status JOBDIR` works whatever ran the job.
//
// Adding an executor is one file with a Register...() function and one line in builtin.cc.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/engine/run.h"

namespace volbatch {

// `volbatch work` exits with this when it finished its share but some blocks failed (their
// errors are in its summary and the ledger); any other non-zero exit means it died.
inline constexpr int kWorkBlocksFailed = 4;

struct ExecutorOptions {
  std::string name;        // the executor, for messages ("slurm")
  int workers = 0;         // N; 0: the executor's default
  int threads = 0;         // per worker; 0: the executor's default
  int restarts = 10;       // worker restarts (or array-task resubmissions) allowed in all
  double lease_s = 60;     // claim lease handed to the workers
  bool quiet = false;      // no progress line
  bool detach = false;     // batch engines: submit and return at once
  bool apply = false;      // k8s: apply the manifest with kubectl
  std::string executable;  // volbatch itself (default: /proc/self/exe)
  // The job's [run.<name>] table with the command line's flags laid over it; each executor
  // reads it through a ParamTable named "run.<name>", so an unknown key is an error.
  nlohmann::json table = nlohmann::json::object();
};

struct ExecutorResult {
  nlohmann::json status;              // JobStatus of the job directory when it returned
  bool complete = false;              // every block done
  bool submitted_only = false;        // detached, or an engine this machine cannot follow
  int restarts = 0;                   // workers started again / array tasks resubmitted
  std::vector<std::string> messages;  // what the user needs: files written, job ids
  std::string problem;                // why it is not complete, in one line ("" if complete)
};

using Executor = std::function<ExecutorResult(const JobSpec& spec, const RunOptions& run,
                                              const ExecutorOptions& options)>;

// What an engine says about a job directory it ran (its array tasks, pods), or nullopt when it
// did not run this job; `volbatch status` shows every answer under "engines".
using EngineStatus = std::function<std::optional<nlohmann::json>(const std::string& jobdir)>;

void RegisterExecutor(const std::string& name, Executor executor, EngineStatus status = nullptr);
// Throws InvalidArgument naming "--executor" and listing the known ones.
const Executor& FindExecutor(const std::string& name);
std::vector<std::string> RegisteredExecutors();

// JobStatus(jobdir) with "engines": {name: what that engine says} added.
nlohmann::json JobAndEngineStatus(const std::string& jobdir);
// JobStatusText plus one line per engine (its "summary" field).
std::string JobAndEngineStatusText(const nlohmann::json& status);

// How many workers an executor starts: --workers, else `fallback`; `what` names them in the
// errors ("pods"). Throws InvalidArgument naming --workers when the number is outside
// 1..most, or when it is 0 and the executor has no default (fallback 0).
int ResolveWorkers(const ExecutorOptions& options, int fallback, int most, const std::string& what);

// The volbatch executable workers run: options.executable, else this process's own.
std::string WorkerExecutable(const ExecutorOptions& options);

// `volbatch work JOBDIR --worker I --of N --lease L --quiet [--threads T]` as arguments
// (without the executable); `worker` is text so that batch scripts can pass "$VAR".
// With metrics.port set, the endpoint's flags follow (--metrics-port P: worker I listens on
// P + I, or on P itself with --metrics-fixed-port; see metrics_settings.h).
std::vector<std::string> WorkArguments(const std::string& jobdir, const std::string& worker, int of,
                                       int threads, double lease_s,
                                       const MetricsSettings& metrics = {});

// --metrics-port P [--metrics-address A] [--metrics-fixed-port] [--metrics-linger S], or
// nothing when metrics.port is unset.
std::vector<std::string> MetricsArguments(const MetricsSettings& metrics);

// Quotes one word for a POSIX shell (scripts, ssh remote commands).
std::string ShellQuote(const std::string& word);

}  // namespace volbatch
