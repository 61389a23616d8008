// The LSF submit script (lsf.h) without LSF: its #BSUB lines, the worker's command, the
// [run.lsf] checks and the time and job-id parsing. tests/exec/test_lsf.py submits it to a
// fake bsub and runs it with bash as LSF would.
#include "volbatch/exec/lsf.h"

#include <gtest/gtest.h>

#include <sstream>

#include "volbatch/core/error.h"
#include "volbatch/exec/exec_test_util.h"

namespace volbatch {
namespace {

using J = nlohmann::json;

LsfJob Job(int workers = 5) {
  LsfJob job;
  job.jobdir = "/gpfs/p/out.zarr/o.volbatch";
  job.output = "/gpfs/p/out.zarr/o";
  job.executable = "/opt/volbatch/bin/volbatch";
  job.workers = workers;
  job.threads = 4;
  job.lease_s = 60;
  job.memory_budget = int64_t{2} << 30;
  return job;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> BsubLines(const std::string& text) {
  std::vector<std::string> b;
  for (const auto& l : Lines(text)) {
    if (l.starts_with("#BSUB ")) b.push_back(l);
  }
  return b;
}

TEST(LsfScript, ArrayOfNElementsEachRunningWorkerIndexMinusOne) {
  const std::string s = LsfScript(ReadLsfSettings(J::object()), Job(5));
  const auto lines = Lines(s);
  EXPECT_EQ(lines.front(), "#!/bin/bash");
  EXPECT_EQ(BsubLines(s), (std::vector<std::string>{
                              "#BSUB -J volbatch-out-o[1-5]",
                              "#BSUB -o /gpfs/p/out.zarr/o.volbatch/logs/lsf-%J_%I.out",
                              "#BSUB -n 4",
                              "#BSUB -R \"span[hosts=1]\"",
                          }));
  EXPECT_EQ(lines.back(),
            "exec /opt/volbatch/bin/volbatch work /gpfs/p/out.zarr/o.volbatch --worker "
            "$((LSB_JOBINDEX - 1)) --of 5 --lease 60.000000 --quiet --threads 4");
  // Every #BSUB line comes before the first command (LSF stops reading them there).
  size_t last_bsub = 0, first_command = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].starts_with("#BSUB")) last_bsub = i;
    if (!lines[i].starts_with("#") && first_command == lines.size()) first_command = i;
  }
  EXPECT_LT(last_bsub, first_command);
}

TEST(LsfScript, EveryOptionBecomesItsBsubLine) {
  const J t = {{"queue", "gpu"},
               {"time", "01:30:20"},
               {"memory", "16GiB"},
               {"gpus", 2},
               {"project", "em-seg"},
               {"array_limit", 10},
               {"name", "seg"},
               {"extra", {"-app volbatch", "-G lab"}},
               {"volbatch", "/shared/bin/volbatch"}};
  const std::string s = LsfScript(ReadLsfSettings(t), Job(3));
  EXPECT_EQ(BsubLines(s), (std::vector<std::string>{
                              "#BSUB -J seg[1-3]%10",
                              "#BSUB -o /gpfs/p/out.zarr/o.volbatch/logs/lsf-%J_%I.out",
                              "#BSUB -n 4",
                              "#BSUB -R \"span[hosts=1]\"",
                              "#BSUB -q gpu",
                              "#BSUB -W 1:31",
                              "#BSUB -M 16384MB",
                              "#BSUB -R \"rusage[mem=16384MB]\"",
                              "#BSUB -gpu \"num=2\"",
                              "#BSUB -P em-seg",
                              "#BSUB -app volbatch",
                              "#BSUB -G lab",
                          }));
  EXPECT_TRUE(Lines(s).back().starts_with("exec /shared/bin/volbatch work "));
}

TEST(LsfScript, PathsAreQuotedForTheShell) {
  LsfJob job = Job(2);
  job.jobdir = "/gpfs/my data/o.volbatch";
  job.executable = "/opt/it's/volbatch";
  const std::string s = LsfScript(ReadLsfSettings(J::object()), job);
  EXPECT_NE(s.find("#BSUB -o '/gpfs/my data/o.volbatch/logs/lsf-%J_%I.out'"), std::string::npos);
  EXPECT_NE(s.find("exec '/opt/it'\\''s/volbatch' work '/gpfs/my data/o.volbatch' --worker "
                   "$((LSB_JOBINDEX - 1)) --of 2"),
            std::string::npos);
}

TEST(LsfScript, TimeLimitsInLsfForm) {
  EXPECT_EQ(LsfTimeLimit("02:00", "t"), "2:00");
  EXPECT_EQ(LsfTimeLimit("00:45", "t"), "45");
  EXPECT_EQ(LsfTimeLimit("00:45:01", "t"), "46");
  EXPECT_EQ(LsfTimeLimit("1:59:30", "t"), "2:00");
  EXPECT_EQ(LsfTimeLimit("48:05:00", "t"), "48:05");
  for (const char* bad : {"2", "2h", "1:60", "1:00:60", "::", "1:2:3:4", "00:00", "-1:00", "1:"}) {
    ExpectError([&] { LsfTimeLimit(bad, "[run.lsf] time"); },
                std::string("[run.lsf] time: \"") + bad + "\" is not HH:MM or HH:MM:SS");
  }
}

TEST(LsfScript, BadTablesNameTheKey) {
  ExpectError([] { ReadLsfSettings({{"queu", "x"}}); }, "[run.lsf] queu: unknown key");
  ExpectError([] { ReadLsfSettings({{"time", "3 hours"}}); }, "[run.lsf] time");
  // A typo is reported as such, even beside a bad value.
  ExpectError(
      [] {
        ReadLsfSettings({{"time", "3 hours"}, {"tiem", "1:00"}});
      },
      "[run.lsf] tiem: unknown key");
  ExpectError([] { ReadLsfSettings({{"time", 90}}); }, "[run.lsf] time: must be");
  ExpectError([] { ReadLsfSettings({{"memory", "much"}}); }, "[run.lsf] memory");
  ExpectError([] { ReadLsfSettings({{"extra", "-x"}}); }, "[run.lsf] extra");
  ExpectError([] { ReadLsfSettings({{"extra", {"-a\n-b"}}}); }, "[run.lsf] extra");
  ExpectError([] { ReadLsfSettings({{"name", "a b"}}); }, "[run.lsf] name");
  ExpectError([] { ReadLsfSettings({{"array_limit", 0}}); }, "[run.lsf] array_limit");
  ExpectError(
      [] {
        LsfScript(ReadLsfSettings({{"memory", "1GiB"}}), Job());
      },
      "[run.lsf] memory: 1024 MB per worker is less than the workers' memory "
      "budget of 2048 MB");
}

TEST(LsfScript, JobIdFromBsub) {
  EXPECT_EQ(BsubJobId("Job <42> is submitted to queue <normal>.\n"), "42");
  EXPECT_EQ(BsubJobId("Warning: x\nJob <123456> is submitted to default queue <q>."), "123456");
  EXPECT_EQ(BsubJobId("Request aborted by esub. Job not submitted."), std::nullopt);
}

}  // namespace
}  // namespace volbatch
