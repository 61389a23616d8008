// Claims: which worker computes which blocks, so that N workers sharing a job directory split
// the blocks between them, help the slow ones and take over the blocks of one that died, at a
// metadata cost per block that does not grow with N (no directory listing per block, no file
// per block).
//
// Blocks are cut into N lanes of consecutive blocks (C order over the block grid): lane L
// holds blocks [L*len, (L+1)*len) with len = ceil(blocks / N), so a worker's blocks share
// chunk directories and input chunks with their neighbours. Worker I works lane I % N first.
// A worker claims a *run*, positions [start, end) of one lane, sized to a few seconds of its
// work (batch_size.h). Runs of a lane form a chain: the run after [s, e) starts at e. Layout,
// under JOBDIR/claims/:
//   generation   created by whoever prepares a run (`volbatch run`) when no worker is live:
//                "volbatch-claims 1 <blocks>\n" then a bitmap of the blocks done at that
//                moment (bit b of byte b/8), so that a starting worker learns what to skip
//                from one file instead of N ledgers. Blocks done later in the same generation
//                were done in runs, which nobody takes again (takeovers re-read the ledgers).
//   lanes        the lane count N, set by the first worker (created exclusively).
//   runs/L.S     run S of lane L (S = its first position), "<end> <worker> <pid> <host> <ms>\n",
//                created with O_EXCL (of two workers asking for the same run exactly one gets
//                it) and written at once; a reader that finds it without its newline waits for
//                it while the file is under a second old (a creator killed in between leaves it
//                so for good: the chain then goes on at S + 1,
//                and the dead holder's takeover computes position S). Kept until the claims are
//                reset, so that the chain can be followed.
//   runs/L.head  a run boundary of lane L where the chain can be followed from, replaced
//                (rename) at most once a second per lane; a hint, never trusted further.
//   ends/L       lane L has no run left to give (created once, listed by helpers).
//   holders/W.P.H  one per live worker process (worker W, pid P, host H): its mtime is the
//                heartbeat (touched every lease/4); its content says which runs are its:
//                  "holder W P H"       whose runs the lines below mean,
//                  "from L S"           every run of lane L from position S on whose run file
//                                       names that holder,
//                  "run L S E"          run [S, E) of lane L (runs taken over or given back).
//                A "from" line is written (rename) before the worker claims its first run in
//                a lane, so a run is never claimed without a holder file that covers it, and
//                the file is rewritten once per lane, not per run. Removed when the worker has
//                nothing in hand. A holder older than the lease, or on this host with a dead
//                pid, is stale: another worker takes it over by renaming the file to
//                W'.P'.H'~K (a name of its own, K counting its takeovers; of two racing takers
//                one rename succeeds), so the runs are never without a holder file; it follows
//                the "from" lanes' chains to find the runs, and computes their blocks that the
//                ledgers do not show done. A worker stopped by SIGTERM leaves released.W.P.H
//                with "run" lines: runs given back, taken over at once by the next worker.
// Two workers on one index, a requeued task or a duplicate pod just take different runs of the
// same lane. A block computed twice (a takeover of a worker that was only stopped) writes the
// same bytes (DESIGN invariant 6).
//
// Cost per run: 1 operation to claim (an exclusive create), and a hint now and then; per lane
// a worker works: 2 to rewrite its holder file, 1 to list ends/ and 1 to read the lane's hint;
// per worker: a read of `generation` and `lanes`, and at the end one listing of holders/ per
// poll while others still compute (plus at most 16 stats for heartbeats). A takeover follows
// the chains of the dead holder's lanes: one read per run. `volbatch status` lists holders/:
// O(workers).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volbatch/core/box.h"
#include "volbatch/engine/ledger.h"

namespace volbatch {

struct ClaimRun {
  int lane = 0;
  Index start = 0, end = 0;  // positions in the lane
  bool operator<(const ClaimRun& o) const {
    return lane != o.lane ? lane < o.lane : start < o.start;
  }
  bool operator==(const ClaimRun& o) const {
    return lane == o.lane && start == o.start && end == o.end;
  }
};

// Lanes over a block grid of `blocks` blocks.
struct Lanes {
  Index blocks = 0;
  int count = 1;
  Index Stride() const { return count > 0 ? (blocks + count - 1) / count : 0; }
  Index Length(int lane) const;
  Index Block(int lane, Index position) const { return lane * Stride() + position; }
};

struct ClaimHolder {
  std::string file;  // its name in holders/
  int worker = -1;
  long pid = 0;
  std::string host;
  double age_s = 0;                          // since the last heartbeat
  std::vector<std::pair<int, Index>> lanes;  // "from" lines: lane, first position
  std::vector<ClaimRun> runs;                // "run" lines
};

// Every holder (worker processes with runs in hand), in no particular order.
std::vector<ClaimHolder> ListHolders(const std::string& jobdir);

// Starts a new generation of claims for a job of `blocks` blocks whose ledgers say `done`,
// unless a worker on them is live (its holder fresh within `live_within`, or on this host with
// its process alive): then the live run is joined and nothing changes. Returns true if it
// started one.
bool StartClaimGeneration(const std::string& jobdir, Index blocks, const LedgerState& done,
                          std::chrono::milliseconds live_within);

// Removes the claims directory's content (after every worker of a run has exited).
void RemoveClaims(const std::string& jobdir);

class ClaimBoard {
 public:
  // Joins the claims of `jobdir` as worker `worker` of `of`, for a job of `blocks` blocks.
  ClaimBoard(std::string jobdir, int worker, int of, Index blocks, std::chrono::milliseconds lease);
  ~ClaimBoard();
  ClaimBoard(const ClaimBoard&) = delete;
  ClaimBoard& operator=(const ClaimBoard&) = delete;

  const Lanes& lanes() const { return lanes_; }
  int own_lane() const { return own_lane_; }
  // Blocks done when the generation started (its snapshot), or the ledgers read now when this
  // worker had to start the generation itself.
  const std::vector<bool>& done_at_start() const { return done_; }

  // The next run of `lane` with at most `size` positions; nullopt when the lane has none left.
  std::optional<ClaimRun> TakeRun(int lane, Index size);
  // Lanes with runs left as far as ends/ says, in ring order after `after`.
  std::vector<int> OpenLanes(int after) const;
  // One look at holders/ once every lane is given out: takes over the runs of one stale
  // holder (if any), and says whether another worker still has runs in hand.
  struct Survey {
    std::vector<ClaimRun> taken_over;
    bool others_busy = false;
  };
  Survey SurveyHolders();
  // The run's blocks are all recorded: it is no longer held.
  void Finished(const ClaimRun& run);
  // No more runs will be taken: the holder file goes as soon as nothing is held.
  void Leave();
  // Gives back the runs still held (a stopped worker): any worker takes them over at once.
  void ReleaseHeld();
  // Refreshes the holder file's mtime; if it was taken over while this worker was stopped, it
  // is written again (the blocks in hand are still being computed, which is harmless).
  void Heartbeat();
  std::set<ClaimRun> Held() const;
  const std::string& dir() const { return dir_; }
  std::chrono::milliseconds lease() const { return lease_; }

 private:
  void JoinGeneration(Index blocks);
  void JoinLanes(int of);
  Index Cursor(int lane);  // the next run's start as known here, or read from the hint
  // Replaces the main holder file: this worker and the lanes it claims runs in.
  void WriteMainLocked();
  // Runs of `lane` from `from` on whose run file names worker/pid/host (a dead holder's).
  std::vector<ClaimRun> RunsOf(int lane, Index from, const ClaimHolder& who) const;
  // Removes a holder file of this process that lists nothing in hand any more.
  void DropIfEmptyLocked(const std::string& file);
  bool Holds(const std::string& file) const;
  bool StaleHolder(const std::string& name, double age_s) const;
  // Takes over one stale holder file's runs (empty if another taker got it first).
  std::vector<ClaimRun> TakeOver(const std::string& name);
  void MarkEnded(int lane);
  // The run of `lane` starting at `start`, if one does: its end and holder (a run file whose
  // creator died before writing it reads as one position, holder unknown).
  struct RunFile {
    Index end = 0;
    ClaimHolder holder;
    bool complete = false;
  };
  std::optional<RunFile> ReadRun(int lane, Index start) const;
  std::string dir_, holder_name_, identity_;
  int worker_;
  std::chrono::milliseconds lease_;
  Lanes lanes_;
  int own_lane_ = 0;
  std::vector<bool> done_;
  mutable std::mutex mu_;
  std::map<ClaimRun, std::string> held_;  // run -> the holder file (in holders/) listing it
  std::set<std::string> files_;           // holder files of this process that exist
  int takeovers_ = 0;
  size_t survey_from_ = 0;                    // where the next survey starts its stats
  std::set<int> ended_;                       // lanes this process marked ended
  std::vector<std::optional<Index>> cursor_;  // per lane: the next run's start, if known
  std::vector<bool> head_;     // per lane: this worker took the last run it saw there
  std::map<int, Index> from_;  // lanes this worker claims in, from which position
  std::map<int, std::chrono::steady_clock::time_point> hinted_;  // last hint written, per lane
  bool leaving_ = false;
};

}  // namespace volbatch
