#include "volbatch/exec/worker_index.h"

#include <gtest/gtest.h>

#include <map>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

Environment Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(WorkerIndex, TakesTheFirstVariableSet) {
  EXPECT_EQ(WorkerIndexFromEnvironment(Env({{"SLURM_ARRAY_TASK_ID", "7"}})), 7);
  EXPECT_EQ(WorkerIndexFromEnvironment(Env({{"JOB_COMPLETION_INDEX", "0"}})), 0);
  EXPECT_EQ(WorkerIndexFromEnvironment(
                Env({{"VOLBATCH_WORKER", "2"}, {"SLURM_ARRAY_TASK_ID", "5"}})),
            2);
}

TEST(WorkerIndex, LsfCountsFromOne) {
  EXPECT_EQ(WorkerIndexFromEnvironment(Env({{"LSB_JOBINDEX", "1"}})), 0);
  EXPECT_EQ(WorkerIndexFromEnvironment(Env({{"LSB_JOBINDEX", "12"}})), 11);
}

TEST(WorkerIndex, BadValuesNameTheVariable) {
  try {
    WorkerIndexFromEnvironment(Env({{"SLURM_ARRAY_TASK_ID", "3x"}}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("$SLURM_ARRAY_TASK_ID: \"3x\""), std::string::npos);
  }
  EXPECT_THROW(WorkerIndexFromEnvironment(Env({{"LSB_JOBINDEX", "0"}})), Error);
  EXPECT_THROW(WorkerIndexFromEnvironment(Env({{"JOB_COMPLETION_INDEX", "-1"}})),
               Error);
}

TEST(WorkerIndex, NoneSetNamesTheFlag) {
  try {
    WorkerIndexFromEnvironment(Env({}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--worker: not given"), std::string::npos);
  }
}

}  // namespace
}  // namespace volbatch
