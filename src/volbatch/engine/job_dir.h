// JobDir: the directory that holds a job's state on a shared filesystem, so any executor and
// `volbatch status` see the same thing. Layout:
//   job.json       the resolved job: {"fingerprint", "identity" (what the output depends on),
//                  "run" (threads, memory: informational), "created"}
//   stats.json     whole-input statistics an operator asked for (percentiles), computed once
//   job.json also keeps "spec", the job's tables with absolute paths, for `volbatch work`
//   ledger/        one append-only ledger per worker (see ledger.h)
//   claims/        who computes which runs of blocks: a generation, run files, one holder
//                  file per worker process (see claims.h)
//   summary.json   the last run's summary; summary.worker-IIII.json each worker's
// Its file count grows with workers and run files (a few seconds of work each), never with
// blocks.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/engine/job.h"

namespace volbatch {

// FNV-1a 64 of the canonical (sorted-key) JSON of the job's identity, as 16 hex digits.
std::string Fingerprint(const nlohmann::json& identity);

// "tiling.overlap: was [8, 32, 32], now [4, 32, 32]" for the first difference; "" if equal.
std::string DescribeChange(const nlohmann::json& before, const nlohmann::json& now,
                           const std::string& path = "");

class JobDir {
 public:
  explicit JobDir(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  bool Exists() const;
  // job.json of an earlier run, or nullopt. Throws DataLoss naming the file if unreadable.
  std::optional<nlohmann::json> ReadJob() const;
  // Creates the directory and writes job.json (atomically).
  void WriteJob(const ResolvedJob& job) const;
  std::optional<nlohmann::json> ReadJson(const std::string& name) const;
  void WriteJson(const std::string& name, const nlohmann::json& value) const;
  // Writes JOBDIR/name (which may name a subdirectory, created) atomically and durably: a
  // temporary beside it, fsync, rename. Returns the file's path.
  std::string WriteText(const std::string& name, const std::string& text,
                        unsigned mode = 0644) const;
  // Removes the ledgers, statistics and summary (--force): the next run starts over.
  void Reset() const;

 private:
  std::string path_;
};

// The block shape an earlier run stored in its job.json, if any (so a resume keeps the same
// block grid).
std::optional<Shape> StoredBlock(const nlohmann::json& job_json);

}  // namespace volbatch
