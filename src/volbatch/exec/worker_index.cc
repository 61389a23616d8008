#include "volbatch/exec/worker_index.h"

#include <cstdlib>

#include "volbatch/core/error.h"

namespace volbatch {

int WorkerIndexFromEnvironment(const Environment& env) {
  struct Source {
    const char* name;
    int offset;
  };
  static constexpr Source kSources[] = {{"VOLBATCH_WORKER", 0},
                                        {"SLURM_ARRAY_TASK_ID", 0},
                                        {"JOB_COMPLETION_INDEX", 0},
                                        {"LSB_JOBINDEX", 1}};
  for (const Source& s : kSources) {
    const std::optional<std::string> value = env(s.name);
    if (!value || value->empty()) continue;
    size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(*value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value->size() || n - s.offset < 0 || n > (1 << 30)) {
      throw InvalidArgument(std::string("$") + s.name + ": \"" + *value +
                            "\" is not a worker index" + (s.offset ? " (it counts from 1)" : ""));
    }
    return static_cast<int>(n - s.offset);
  }
  throw InvalidArgument(
      "--worker: not given, and none of $VOLBATCH_WORKER, $SLURM_ARRAY_TASK_ID, "
      "$JOB_COMPLETION_INDEX, $LSB_JOBINDEX is set");
}

int WorkerIndexFromEnvironment() {
  return WorkerIndexFromEnvironment([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  });
}

}  // namespace volbatch
