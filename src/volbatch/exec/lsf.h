// The lsf executor: `volbatch run JOB --executor lsf --workers N` prepares the job directory
// here and writes JOBDIR/lsf/submit.bsub, a bash script for an LSF job array of N elements;
// element I (LSB_JOBINDEX, counted from 1) runs `volbatch work JOBDIR --worker I-1 --of N`.
// With bsub on PATH it submits the script (`bsub < FILE`) and records the job id in
// JOBDIR/lsf/jobs.json; it never follows the job: `volbatch status JOBDIR` does, from anywhere
// that sees the job directory. So it resubmits nothing, and the restart rule of the pools and
// of Slurm (restart_policy.h) has nothing to apply to: after dead elements, `volbatch run`
// again finishes the blocks no ledger records.
//
// The script is built by pure functions (below) so that tests check it without LSF.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/engine/metrics_settings.h"

namespace volbatch {

// What an [run.lsf] table says (with --queue, --time, --memory, --gpus laid over it).
struct LsfSettings {
  std::string name;                // the job's name; "" = derived from the output's name
  std::string queue;               // -q; "" = the cluster's default
  std::string time;                // -W in LSF's form [HH:]MM; "" = none
  int64_t memory = 0;              // bytes per worker (-M, rusage[mem]); 0 = none
  int gpus = 0;                    // -gpu "num=G"
  std::string project;             // -P
  int array_limit = 0;             // %K: elements running at once; 0 = no limit
  std::vector<std::string> extra;  // more #BSUB lines, as written
  std::string volbatch;            // the program on the compute nodes; "" = this volbatch
};

// Reads [run.lsf] (as JSON); every unknown key, a wrong type or a bad value is an
// InvalidArgument naming "[run.lsf] key".
LsfSettings ReadLsfSettings(const nlohmann::json& table);

// "HH:MM" or "HH:MM:SS" as LSF's -W [HH:]MM (seconds round up to a minute): "2:00", "45".
// Throws InvalidArgument naming `what` otherwise.
std::string LsfTimeLimit(const std::string& time, const std::string& what);

// Where the job lives and how its workers run.
struct LsfJob {
  std::string jobdir;      // absolute
  std::string output;      // absolute; its name gives the default job name
  std::string executable;  // volbatch on the compute nodes (settings.volbatch wins if given)
  int workers = 1;
  int threads = 1;  // per worker: -n slots on one host
  double lease_s = 60;
  MetricsSettings metrics;    // the workers' endpoint: worker I on PORT + I
  int64_t memory_budget = 0;  // the workers' [run] memory budget; 0 = not checked
};

// The submit script. Throws InvalidArgument naming "[run.lsf] ..." when the settings do not fit
// the job (less memory than the workers' budget).
std::string LsfScript(const LsfSettings& settings, const LsfJob& job);

// The job id in bsub's answer "Job <123> is submitted to queue <normal>.", if any.
std::optional<std::string> BsubJobId(const std::string& output);

void RegisterLsfExecutor();

}  // namespace volbatch
