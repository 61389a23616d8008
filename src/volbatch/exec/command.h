// Running an engine's command-line tools (sbatch, squeue, scontrol, kubectl, bsub, mpirun) and
// capturing what they print, with a time limit so a hung tool cannot hang volbatch.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace volbatch {

struct CommandResult {
  int exit_code = -1;  // 128 + signal if killed; -1 if it could not start
  std::string out, err;
  bool timed_out = false;
  // "sbatch: exit 1: <first line of stderr>" for messages.
  std::string Describe(const std::string& program) const;
};

// Runs argv (argv[0] looked up on PATH) with `input` on its stdin; kills it after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// True if `program` is an executable on PATH (or a path to one).
bool OnPath(const std::string& program);

}  // namespace volbatch
