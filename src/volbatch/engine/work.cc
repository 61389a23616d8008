#include "volbatch/engine/work.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_map>

#include "volbatch/core/error.h"
#include "volbatch/engine/batch_size.h"
#include "volbatch/engine/claims.h"
#include "volbatch/engine/ledger.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Refreshes this worker's holder file until stopped.
class Heartbeat {
 public:
  Heartbeat(ClaimBoard& board, std::chrono::milliseconds every)
      : thread_([this, &board, every] {
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, every, [&] { return stop_; })) board.Heartbeat();
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Blocks from the runs this worker claims. Next() runs on the pipeline's input stage and
// Finished() on its record stage, possibly at once: one mutex guards the runs, released
// while the source waits or flushes (a flush calls Finished).
class RunSource final : public BlockSource {
 public:
  RunSource(ClaimBoard& board, LedgerFollower& ledger, std::chrono::milliseconds poll,
            std::atomic<Index>& taken_over_blocks)
      : board_(board),
        ledger_(ledger),
        poll_(poll),
        sizer_(board.lease()),
        lane_(board.lanes().Length(board.own_lane()) > 0 ? board.own_lane() : -1),
        taken_over_blocks_(taken_over_blocks) {
    for (bool d : board.done_at_start()) done_before_ += d ? 1 : 0;
  }

  Index done_before() const override { return done_before_; }

  std::optional<Index> Next() override {
    std::unique_lock lock(mu_);
    while (!StopRequested()) {
      if (std::optional<Index> b = NextInRuns()) return b;
      if (TakeRun()) continue;
      // Every run is given out. Take over a stale holder's runs, or leave, unless another
      // worker still computes (it may die and leave its runs to us).
      const ClaimBoard::Survey survey = board_.SurveyHolders();
      if (!survey.taken_over.empty()) {
        TakeOver(survey.taken_over);
        continue;
      }
      board_.Leave();
      if (!survey.others_busy) return std::nullopt;
      // Our own records go out before we wait, so that nobody waits for blocks we finished.
      lock.unlock();
      FlushRecords();
      std::this_thread::sleep_for(poll_);
      lock.lock();
    }
    return std::nullopt;
  }

  void Finished(Index block, bool /*ok*/) override {
    std::lock_guard lock(mu_);
    auto it = run_of_.find(block);
    if (it == run_of_.end()) return;
    const ClaimRun run = it->second;
    run_of_.erase(it);
    auto a =
        std::find_if(active_.begin(), active_.end(), [&](const Active& x) { return x.run == run; });
    if (a == active_.end()) return;
    --a->outstanding;
    CloseIfDone(a);
  }

  std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
    // The failed blocks are this worker's (their runs were claimed): try them again here.
    return std::make_unique<ListSource>(failed);
  }

 private:
  struct Active {
    ClaimRun run;
    Index next = 0;         // the next position to hand out
    Index outstanding = 0;  // handed out, not yet finished
    bool taken_over = false;
  };

  bool Done(Index block, bool taken_over) const {
    if (board_.done_at_start()[static_cast<size_t>(block)]) return true;
    return taken_over && ledger_.state().IsDone(block);
  }

  std::optional<Index> NextInRuns() {
    for (auto a = active_.begin(); a != active_.end(); ++a) {
      while (a->next < a->run.end) {
        const Index b = board_.lanes().Block(a->run.lane, a->next++);
        if (Done(b, a->taken_over)) continue;
        ++a->outstanding;
        run_of_[b] = a->run;
        if (a->taken_over) ++taken_over_blocks_;
        return b;
      }
    }
    // Runs handed out in full and finished: no longer held.
    for (auto a = active_.begin(); a != active_.end();)
      a = CloseIfDone(a) ? active_.begin() : a + 1;
    return std::nullopt;
  }

  // Drops a run that is handed out and finished; returns whether it did.
  bool CloseIfDone(std::deque<Active>::iterator a) {
    if (a->next < a->run.end || a->outstanding > 0) return false;
    board_.Finished(a->run);
    active_.erase(a);
    return true;
  }

  bool TakeRun() {
    if (first_take_ == Clock::time_point{}) first_take_ = Clock::now();
    const double elapsed = std::chrono::duration<double>(Clock::now() - first_take_).count();
    const Index size = sizer_.Next(positions_taken_, elapsed, Index{1} << 30);
    while (lane_ >= 0) {
      if (std::optional<ClaimRun> run = board_.TakeRun(lane_, size)) {
        positions_taken_ += run->end - run->start;
        active_.push_back({*run, run->start, 0, false});
        return true;
      }
      // This lane is given out: help another open one. A listing of ends/ is as cheap as a
      // look at one lane, so it is read afresh each time; idle workers spread over the open
      // lanes instead of all following the next one.
      std::vector<int> open = board_.OpenLanes(board_.own_lane());
      open.erase(std::remove(open.begin(), open.end(), lane_), open.end());
      lane_ = open.empty() ? -1 : open[spread_ % open.size()];
    }
    return false;
  }

  void TakeOver(const std::vector<ClaimRun>& runs) {
    ledger_.RelistNext();
    ledger_.Refresh();  // what the dead worker finished is not ours to redo
    for (const ClaimRun& r : runs) active_.push_back({r, r.start, 0, true});
  }

  ClaimBoard& board_;
  LedgerFollower& ledger_;
  std::chrono::milliseconds poll_;
  BatchSizer sizer_;
  int lane_;
  size_t spread_ = static_cast<size_t>(::getpid()) * 2654435761u;
  std::atomic<Index>& taken_over_blocks_;
  Index done_before_ = 0, positions_taken_ = 0;
  Clock::time_point first_take_{};
  std::mutex mu_;
  std::deque<Active> active_;
  std::unordered_map<Index, ClaimRun> run_of_;
};

}  // namespace

RunSummary WorkJob(const std::string& jobdir_in, const WorkOptions& o) {
  if (o.of < 1 || o.worker < 0 || o.worker >= o.of) {
    throw InvalidArgument("--worker " + std::to_string(o.worker) + " --of " + std::to_string(o.of) +
                          ": need 0 <= worker < of");
  }
  if (o.lease < std::chrono::milliseconds(100)) {
    throw InvalidArgument("the claim lease must be at least 100 ms");
  }
  const std::string jobdir = fs::absolute(jobdir_in).lexically_normal().string();
  PreparedJob p = OpenPreparedJob(jobdir, o.threads);
  if (o.metrics.port) p.job.spec.run.metrics = o.metrics;
  std::unique_ptr<ClaimBoard> board;
  LedgerFollower follower(jobdir);
  std::unique_ptr<Heartbeat> heartbeat;
  std::atomic<Index> taken_over{0};
  RunOptions ro;
  ro.blocks_taken_over = &taken_over;
  ro.worker = o.worker;
  ro.quiet = o.quiet;
  char name[48];
  std::snprintf(name, sizeof(name), "summary.worker-%04d.json", o.worker);
  const auto poll = std::min<std::chrono::milliseconds>(o.lease / 4, std::chrono::seconds(1));
  RunSummary s = ExecuteBlocks(
      p, ro,
      [&](Index num_blocks) -> std::unique_ptr<BlockSource> {
        board = std::make_unique<ClaimBoard>(jobdir, o.worker, o.of, num_blocks, o.lease);
        heartbeat = std::make_unique<Heartbeat>(*board, o.lease / 4);
        return std::make_unique<RunSource>(*board, follower, poll, taken_over);
      },
      name);
  heartbeat.reset();
  // Stopped (SIGTERM) with runs not all handed out: give them back.
  if (board) board->ReleaseHeld();
  return s;
}

}  // namespace volbatch
