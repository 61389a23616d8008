// Which worker of N this process is, when `volbatch work` is not told: batch engines hand each
// array task or pod its index in an environment variable.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace volbatch {

using Environment = std::function<std::optional<std::string>(const std::string& name)>;

// VOLBATCH_WORKER, SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs), or
// LSB_JOBINDEX - 1 (LSF arrays count from 1), the first that is set. Throws InvalidArgument
// naming the variable for a value that is not a non-negative integer, and "--worker" when
// none is set.
int WorkerIndexFromEnvironment(const Environment& env);
int WorkerIndexFromEnvironment();  // the process's own environment

}  // namespace volbatch
