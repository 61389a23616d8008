#include "volbatch/exec/ledger_progress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volbatch/engine/job_dir.h"
#include "volbatch/engine/run.h"

namespace volbatch {

size_t LedgerRecords(const std::string& jobdir, int worker) {
  const int fd = ::open(LedgerPath(jobdir, worker).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0;
  ::close(fd);
  return ok ? static_cast<size_t>(st.st_size) / kLedgerRecordSize : 0;
}

LedgerProgress::LedgerProgress(const std::string& jobdir, bool enabled) : follower_(jobdir) {
  const nlohmann::json status = JobStatus(jobdir);
  total_ = status["blocks_total"].get<Index>();
  follower_.Refresh();
  seen_done_ = follower_.state().done();
  seen_failed_ = follower_.state().failed();
  // Ledger records carry no voxel count: the rate shown is blocks times the average block.
  try {
    const auto job = JobDir(jobdir).ReadJob();
    Shape shape = job->at("identity").at("output").at("shape").get<Shape>();
    int64_t voxels = 1;
    for (Index n : shape) voxels *= n;
    block_voxels_ = total_ > 0 ? voxels / total_ : 0;
  } catch (const std::exception&) {
    block_voxels_ = 0;
  }
  progress_ = std::make_unique<Progress>(total_, static_cast<int64_t>(seen_done_),
                                         enabled && ::isatty(STDERR_FILENO));
}

void LedgerProgress::Poll() {
  follower_.Refresh();
  const size_t done = follower_.state().done(), failed = follower_.state().failed();
  for (; seen_done_ < done; ++seen_done_) progress_->Add(block_voxels_, false);
  for (; seen_failed_ < failed; ++seen_failed_) progress_->Add(0, true);
}

void LedgerProgress::Finish() { progress_->Finish(); }

}  // namespace volbatch
