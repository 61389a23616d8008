// Running a job in this process: resolve it, prepare (or resume) its job directory and output,
// compute statistics once, then stream the blocks through a bounded read -> compute -> write
// pipeline, recording blocks in the ledger only after their chunks are durable (in groups:
// group_commit.h).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/engine/block_processor.h"
#include "volbatch/engine/job.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/store/dataset.h"

namespace volbatch {

struct RunOptions {
  int threads = 0;      // overrides [run] threads when > 0
  bool force = false;   // start over: forget done blocks, write into an existing output
  bool resume = false;  // require an existing job directory
  bool quiet = false;   // no progress line
  int worker = 0;       // this process's ledger
  // PrepareJob starts a new generation of claims (claims.h) for workers, unless workers are
  // live on the job; a local run and the MPI queue need none.
  bool claims = true;
  // Counted by the block source: blocks computed from runs taken over from a stale worker
  // (computed twice if that worker was only stopped, which writes the same bytes).
  const std::atomic<Index>* blocks_taken_over = nullptr;
};

struct BlockFailure {
  Index block = 0;
  std::string region;
  std::string error;
};

struct RunSummary {
  std::string jobdir;
  Index blocks_total = 0;
  Index blocks_skipped = 0;  // done by an earlier run
  Index blocks_done = 0;     // done by this run
  Index blocks_failed = 0;
  Index blocks_taken_over = 0;  // of blocks_done: from runs of a stale worker (claims.h)
  int64_t voxels = 0;           // output voxels written by this run (channels included)
  int64_t bytes_read = 0;       // decoded input bytes
  int64_t bytes_written = 0;    // decoded output bytes
  double wall_s = 0, read_s = 0, compute_s = 0, write_s = 0, statistics_s = 0;
  int threads = 0, blocks_in_flight = 0;
  Shape block;
  // Window operators, over the whole job: windows in the lattice, and the model windows the
  // blocks run (a window straddling blocks runs in each). 0 when blocks are the windows.
  Index windows_lattice = 0, windows_run = 0;
  ComputeSplit compute_split;  // of compute_s, window operators only
  int64_t peak_rss_bytes = 0;
  bool interrupted = false;  // stopped by RequestStop (SIGTERM): the blocks in hand finished
  std::vector<BlockFailure> failures;
  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// Runs every block not yet done. Throws volbatch::Error for a job that cannot start; block
// failures are reported in the summary (and recorded in the ledger), not thrown.
RunSummary RunJob(const JobSpec& spec, const RunOptions& options);

// The pieces RunJob and the workers (work.h) share.
struct PreparedJob {
  ResolvedJob job;
  std::shared_ptr<const Dataset> input;
  std::shared_ptr<Dataset> output;
  std::vector<std::shared_ptr<Dataset>> levels;  // the pyramid levels blocks write
};
// Resolves the job, checks or starts its job directory (job.json) and creates or checks the
// output; sweeps temporaries.
PreparedJob PrepareJob(const JobSpec& spec, const RunOptions& options);
// A job directory someone prepared: its job.json resolved again, which must give the same
// identity; the output must exist.
PreparedJob OpenPreparedJob(const std::string& jobdir, int threads);

// Where the pipeline gets its blocks. Next() and Finished() may be called from different
// pipeline stages at once; Finished() after the block's ledger record is durable.
class BlockSource {
 public:
  virtual ~BlockSource() = default;
  virtual std::optional<Index> Next() = 0;
  virtual void Finished(Index /*block*/, bool /*ok*/) {}
  // A source for another attempt at the blocks that failed (null: no retry).
  virtual std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) = 0;
  // Blocks already done when the source was made (for the progress line).
  virtual Index done_before() const { return 0; }
  // Set by the pipeline: makes the records of finished blocks durable now (a source calls it
  // before it waits, so that its blocks in hand do not wait with it).
  void set_flush(std::function<void()> flush) { flush_ = std::move(flush); }

 protected:
  void FlushRecords() const {
    if (flush_) flush_();
  }

 private:
  std::function<void()> flush_;
};
using BlockSourceFactory = std::function<std::unique_ptr<BlockSource>(Index num_blocks)>;

// A fixed list of blocks, in order (a local run's blocks not done; the failed blocks a worker
// tries again itself).
class ListSource final : public BlockSource {
 public:
  explicit ListSource(std::vector<Index> blocks, Index done_before = 0)
      : blocks_(std::move(blocks)), done_before_(done_before) {}
  std::optional<Index> Next() override;
  std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
    return std::make_unique<ListSource>(failed);
  }
  Index done_before() const override { return done_before_; }

 private:
  std::vector<Index> blocks_;
  size_t next_ = 0;
  Index done_before_ = 0;
};
// Statistics, then the pipeline over the source's blocks with retries; writes the summary
// to JOBDIR/`summary_name`.
RunSummary ExecuteBlocks(PreparedJob& prepared, const RunOptions& options,
                         const BlockSourceFactory& make, const std::string& summary_name);

// Asks every running job in this process to take no new blocks (async-signal-safe: a
// SIGTERM handler calls it); blocks in hand finish and are recorded.
void RequestStop();
bool StopRequested();

// `volbatch status`: what the job directory's ledgers say.
nlohmann::json JobStatus(const std::string& jobdir);
std::string JobStatusText(const nlohmann::json& status);

}  // namespace volbatch
