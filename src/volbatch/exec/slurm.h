// The slurm executor: one job array of N `volbatch work` tasks. It writes the batch script
// into the job directory, submits it with sbatch, follows the ledgers and the array's task
// states (scontrol), cancels tasks left pending when nothing remains to do, and resubmits the
// array tasks that died (cancelled, node failure, time limit, out of memory) up to a limit,
// following RestartPolicy (restart_policy.h): at once for a task that recorded a block since
// it was submitted, after a pause otherwise, and never again for one that died 3 times in a
// row without recording a block (one line names it and quotes the last line of its log).
//
// Files, in the job directory:
//   slurm/submit.sbatch   the array script (#SBATCH --array, --requeue, --signal=B:TERM@S, ...);
//                         `sbatch --array=I,J slurm/submit.sbatch` reruns chosen tasks by hand
//   slurm/jobs.json       {"script", "workers", "submissions": [{"job_id", "array", "time"}]}
//   logs/slurm-A_a.out    each task's output
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/engine/metrics_settings.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

struct SlurmSettings {
  std::string jobdir, executable, name;
  int workers = 1, threads = 1;
  double lease_s = 60;
  MetricsSettings metrics;  // the workers' endpoint: worker I on PORT + I (array index)
  std::string partition, time, account, qos, constraint;
  int64_t memory_mib = 0;
  int gpus = 0;
  int array_limit = 0;  // at most this many tasks at once (0: no limit)
  int signal_s = 120;   // SIGTERM this long before the time limit
  std::vector<std::string> extra;  // more #SBATCH lines ("--mail-type=END")
};

// Reads [run.slurm] (checking every key); the job-derived fields are filled by the caller.
void ReadSlurmTable(ParamTable& table, SlurmSettings& settings);

std::string SlurmBatchScript(const SlurmSettings& settings);

struct SlurmTask {
  std::string state;  // COMPLETED, RUNNING, PENDING, CANCELLED, FAILED, ...
  int exit_code = 0;
  int signal = 0;
};
// Array task index -> state, from `scontrol show job -o JOBID` (one line per task or per
// range of pending tasks, "ArrayTaskId=2-3,5%2").
std::map<int, SlurmTask> ParseArrayTasks(const std::string& scontrol_output);
bool SlurmStateIsActive(const std::string& state);
// "0-3,5,7-8" for sbatch --array.
std::string ArrayRanges(const std::vector<int>& indices);

}  // namespace volbatch
