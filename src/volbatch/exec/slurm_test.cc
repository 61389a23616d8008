#include "volbatch/exec/slurm.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

SlurmSettings Settings(nlohmann::json table) {
  SlurmSettings s;
  ParamTable t(std::move(table), 0, "run.slurm");
  ReadSlurmTable(t, s);
  s.jobdir = "/data/out.zarr.volbatch";
  s.executable = "/opt/volbatch/bin/volbatch";
  s.name = "volbatch-o";
  s.workers = 16;
  return s;
}

bool HasLine(const std::string& script, const std::string& line) {
  return script.find("\n" + line + "\n") != std::string::npos;
}

TEST(SlurmScript, HasTheArrayRequeueSignalAndResources) {
  SlurmSettings s = Settings({{"partition", "gpu"},
                              {"time", "2:00:00"},
                              {"memory", "16GiB"},
                              {"gpus", 1},
                              {"cpus_per_task", 8},
                              {"array_limit", 4},
                              {"extra", {"--mail-type=END"}}});
  const std::string script = SlurmBatchScript(s);
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_TRUE(HasLine(script, "#SBATCH --array=0-15%4")) << script;
  EXPECT_TRUE(HasLine(script, "#SBATCH --requeue"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --signal=B:TERM@120"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --partition=gpu"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --time=2:00:00"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --mem=16384M"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --gres=gpu:1"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --cpus-per-task=8"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --mail-type=END"));
  EXPECT_TRUE(HasLine(script, "#SBATCH --output=/data/out.zarr.volbatch/logs/slurm-%A_%a.out"));
  EXPECT_TRUE(HasLine(script,
                      "exec /opt/volbatch/bin/volbatch work /data/out.zarr.volbatch --worker "
                      "\"$SLURM_ARRAY_TASK_ID\" --of 16 --lease 60.000000 --quiet --threads 8"))
      << script;
}

TEST(SlurmScript, PassesTheMetricsPortThrough) {
  // Each array task adds its index to the port itself (volbatch work's rule), so tasks sharing
  // a node never collide and the script needs no arithmetic.
  SlurmSettings s = Settings(nlohmann::json::object());
  s.metrics.port = 9100;
  s.metrics.address = "0.0.0.0";
  const std::string script = SlurmBatchScript(s);
  EXPECT_NE(script.find("--quiet --threads 1 --metrics-port 9100 --metrics-address 0.0.0.0\n"),
            std::string::npos)
      << script;
  EXPECT_EQ(SlurmBatchScript(Settings(nlohmann::json::object())).find("--metrics"),
            std::string::npos);
}

TEST(SlurmScript, BadTableValuesNameTheKey) {
  auto message = [](nlohmann::json table) {
    try {
      Settings(std::move(table));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"time", "two hours"}}).find("[run.slurm] time"), std::string::npos);
  EXPECT_NE(message({{"partitoin", "gpu"}}).find("partitoin"), std::string::npos);
  EXPECT_NE(message({{"extra", {"rm -rf /"}}}).find("[run.slurm] extra"), std::string::npos);
  EXPECT_NE(message({{"memory", "lots"}}).find("[run.slurm] memory"), std::string::npos);
}

TEST(SlurmTasks, ParsesTasksRangesAndExitCodes) {
  const std::string out =
      "JobId=5 ArrayJobId=4 ArrayTaskId=1 JobName=x JobState=CANCELLED Reason=None "
      "ExitCode=0:15 RunTime=00:00:03\n"
      "JobId=6 ArrayJobId=4 ArrayTaskId=0 JobName=x JobState=FAILED ExitCode=4:0\n"
      "JobId=4 ArrayJobId=4 ArrayTaskId=2-3,5%2 JobName=x JobState=PENDING ExitCode=0:0\n";
  const auto tasks = ParseArrayTasks(out);
  ASSERT_EQ(tasks.size(), 5u);
  EXPECT_EQ(tasks.at(1).state, "CANCELLED");
  EXPECT_EQ(tasks.at(1).signal, 15);
  EXPECT_EQ(tasks.at(0).exit_code, 4);
  EXPECT_EQ(tasks.at(3).state, "PENDING");
  EXPECT_EQ(tasks.at(5).state, "PENDING");
  EXPECT_EQ(tasks.count(4), 0u);
  EXPECT_TRUE(SlurmStateIsActive("PENDING"));
  EXPECT_FALSE(SlurmStateIsActive("CANCELLED"));
}

TEST(SlurmTasks, ArrayRanges) {
  EXPECT_EQ(ArrayRanges({3, 0, 1, 2, 7, 9, 10}), "0-3,7,9-10");
  EXPECT_EQ(ArrayRanges({5}), "5");
}

}  // namespace
}  // namespace volbatch
