// When a dead worker is started again, and when it is not. The processes and ssh pools ask it
// about each worker, the slurm executor about each array task it would resubmit.
//
// A worker that dies at start-up (an input it cannot open, a job directory it cannot write, a
// host without the data) dies again at once: started again without a pause it spends the whole
// --restarts budget in a second and buries the reason under identical messages. The rule:
//  - a worker that recorded a block since it was last started was healthy: it is started again
//    at once (a preemption, an OOM kill or a lost node after hours of work), and the count of
//    deaths below starts over;
//  - one that died without recording a block waits before its next start: kFirstDelay, then
//    twice as long for each such death in a row, at most kMaxDelay;
//  - after kGiveUpAfter such deaths in a row it is not started again; the other workers go on
//    and take over its blocks (every worker helps with the others' strides).
// --restarts (the budget of all restarts together) still applies on top of this.
//
// Pure: the caller says whether a block was recorded and keeps the clock.
#pragma once

#include <chrono>

namespace volbatch {

class RestartPolicy {
 public:
  using Duration = std::chrono::milliseconds;

  // Why 3: one death before the first block is everyday bad luck (killed while computing a
  // long first block: preempted, a node lost, a neighbour's OOM); two in a row can still be;
  // three in a row, with the pauses between, is a worker whose environment makes it fail, and
  // a fourth attempt would only repeat the same line later. A broken worker then costs 2
  // restarts of the budget (10 by default), so one broken host does not use it up for the
  // others, and the reason is on the terminal within about 2 s (0.5 s + 1 s of pauses).
  static constexpr int kGiveUpAfter = 3;
  static constexpr Duration kFirstDelay{500};
  // Bounds the pause when a caller allows more deaths in a row than kGiveUpAfter.
  static constexpr Duration kMaxDelay{30000};

  // give_up_after >= 1; 0 < first <= most.
  explicit RestartPolicy(int give_up_after = kGiveUpAfter, Duration first = kFirstDelay,
                         Duration most = kMaxDelay);

  struct Decision {
    bool restart = true;      // false: give up on this worker
    Duration delay{0};        // how long to wait before starting it again
    int deaths_in_a_row = 0;  // deaths without a block recorded, this one included
  };

  // The worker died; `recorded` says whether it recorded a block since it was last started.
  Decision Died(bool recorded);

  int deaths_in_a_row() const { return deaths_in_a_row_; }
  int give_up_after() const { return give_up_after_; }

 private:
  int give_up_after_;
  Duration first_, most_;
  int deaths_in_a_row_ = 0;
};

}  // namespace volbatch
