// Workflows: a chain of jobs (restore -> super-resolve -> classify) in one TOML file, each
// step a job table whose input may be an earlier step's output:
//
//   [run]                      # defaults for every step's [run]
//   threads = 8
//   [[step]]
//   name = "denoise"
//   input = { path = "raw.zarr/raw" }
//   output = { path = "work.zarr/denoised", dtype = "float32" }
//   operator = { type = "gaussian", sigma = 1.0 }
//   [[step]]
//   name = "mask"
//   input = { step = "denoise" }          # the output of step "denoise"
//   output = { path = "work.zarr/mask", dtype = "uint8" }
//   operator = { type = "threshold", value = 0.5 }
//
// Steps run in order, each in its own job directory, so each resumes on its own: running the
// workflow again skips the blocks (and so the steps) already done.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/engine/job.h"

namespace volbatch {

struct WorkflowStep {
  std::string name;
  JobSpec spec;  // paths absolute, an input step resolved to that step's output path
};

struct Workflow {
  std::string source;
  std::vector<WorkflowStep> steps;
};

// True if the TOML file at `path` has [[step]] tables (a workflow, not a job).
bool IsWorkflowFile(const std::string& path);
// Throws InvalidArgument naming the file, the step ("[[step]] 2 (mask)") and the field.
Workflow ParseWorkflowFile(const std::string& path);
Workflow ParseWorkflowToml(const std::string& text, const std::string& source);

// Every step's job status (JobStatus), or {"started": false} for a step not yet begun.
nlohmann::json WorkflowStatus(const Workflow& workflow);
std::string WorkflowStatusText(const nlohmann::json& status);

}  // namespace volbatch
