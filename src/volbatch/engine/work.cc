#include "volbatch/engine/work.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <set>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/claims.h"
#include "volbatch/engine/ledger.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

// Refreshes every claim this worker holds until stopped.
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

class ClaimSource final : public BlockSource {
 public:
  ClaimSource(std::vector<Index> order, ClaimBoard& board, LedgerFollower& ledger,
              std::chrono::milliseconds poll)
      : order_(std::move(order)), board_(board), ledger_(ledger), poll_(poll) {}

  std::optional<Index> Next() override {
    while (!StopRequested()) {
      for (; pos_ < order_.size(); ++pos_) {
        const Index b = order_[pos_];
        if (attempted_.count(b)) continue;
        if (ledger_.state().IsDone(b)) continue;
        if (!board_.TryClaim(b)) {
          waiting_ = true;
          continue;
        }
        ledger_.Refresh();  // done by someone since we last looked?
        if (ledger_.state().IsDone(b)) {
          board_.Release(b);
          continue;
        }
        attempted_.insert(b);
        ++pos_;
        return b;
      }
      // One sweep over every block is over. Blocks others hold may still come free (their
      // holder dies and the claim goes stale, or it fails them): look again after a while.
      ledger_.Refresh();
      if (!waiting_) return std::nullopt;
      bool open = false;
      for (Index b : order_) {
        if (!attempted_.count(b) && !ledger_.state().IsDone(b)) {
          open = true;
          break;
        }
      }
      if (!open) return std::nullopt;
      std::this_thread::sleep_for(poll_);
      pos_ = 0;  // a new sweep
      waiting_ = false;
    }
    return std::nullopt;
  }

  void Finished(Index block, bool /*ok*/) override { board_.Release(block); }

  std::unique_ptr<BlockSource> Retry(const std::vector<Index>& failed) override {
    // Failed blocks were released; claim them again for another attempt.
    return std::make_unique<ClaimSource>(failed, board_, ledger_, poll_);
  }

 private:
  std::vector<Index> order_;
  ClaimBoard& board_;
  LedgerFollower& ledger_;
  std::chrono::milliseconds poll_;
  size_t pos_ = 0;
  // Some block of the current sweep was held by another worker's live claim. A member, not a
  // local: a sweep spans many calls of Next(), and a block skipped in an early call must
  // still bring the worker back for it.
  bool waiting_ = false;
  std::set<Index> attempted_;
};

std::vector<Index> WorkerOrder(Index num_blocks, int worker, int of) {
  std::vector<Index> order;
  order.reserve(static_cast<size_t>(num_blocks));
  for (Index b = worker; b < num_blocks; b += of) order.push_back(b);
  // Then the other strides, the next worker's first, so helpers spread over the others.
  for (int k = 1; k < of; ++k) {
    const int w = (worker + k) % of;
    for (Index b = w; b < num_blocks; b += of) order.push_back(b);
  }
  return order;
}

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
  ClaimBoard board(jobdir, o.worker, o.lease);
  LedgerFollower follower(jobdir);
  Heartbeat heartbeat(board, o.lease / 4);
  RunOptions ro;
  ro.worker = o.worker;
  ro.quiet = o.quiet;
  char name[48];
  std::snprintf(name, sizeof(name), "summary.worker-%04d.json", o.worker);
  const auto poll = std::min<std::chrono::milliseconds>(o.lease / 4, std::chrono::seconds(1));
  RunSummary s = ExecuteBlocks(
      p, ro,
      [&](Index num_blocks, const LedgerState&) -> std::unique_ptr<BlockSource> {
        follower.Refresh();
        return std::make_unique<ClaimSource>(WorkerOrder(num_blocks, o.worker, o.of), board,
                                             follower, poll);
      },
      name);
  // Blocks abandoned in hand (none, unless the pipeline threw): drop their claims.
  for (Index b : board.Held()) board.Release(b);
  return s;
}

}  // namespace volbatch
