// A pool of N worker commands run as child processes of this one (the processes and ssh
// executors): starts them, shows progress from the ledgers, relays what they print line by line
// (worker_output.h), starts again a worker that died, forwards SIGTERM (RequestStop) to them,
// and returns when all exited.
//
// Restarts follow RestartPolicy (restart_policy.h): a worker that recorded a block since its
// last start is started again at once; one that died without recording one waits 0.5 s, then
// 1 s, and after 3 such deaths in a row it is not started again, with one line naming it and
// quoting its last line. The pool keeps relaying output, polling progress and forwarding SIGTERM
// while a worker waits. --restarts bounds the restarts of all workers together.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace volbatch {

struct WorkerPoolOptions {
  int workers = 1;
  int restarts = 10;     // restarts allowed in all
  bool quiet = false;    // no progress line, no restart messages
  std::string jobdir;    // followed for the progress line and for each worker's ledger
  std::string executor;  // for messages ("processes", "ssh")
  // How messages name worker I ("worker 3 on node2"); default "worker 3".
  std::function<std::string(int worker)> name;
};

struct WorkerPoolResult {
  int restarts = 0;
  // Why the pool stopped starting workers again, in one line, or "": the budget ran out
  // ("worker 3 died (signal 9) after 10 restarts"), or the first worker given up
  // ("processes worker 3 died 3 times without recording a block (exit 1); not restarting it;
  // its last line: \"...\""), with how many more were given up.
  std::string gave_up;
  std::vector<int> given_up;  // the workers not started again because they kept dying
  int exit_code = 0;          // the last worker that did not exit 0: its exit (128 + signal)
  std::string how_it_ended;   // and "exit 1" / "signal 9"
};

// argv (argv[0] is the program, looked up on PATH) of worker I's command.
using WorkerCommand = std::function<std::vector<std::string>(int worker)>;

WorkerPoolResult RunWorkerPool(const WorkerCommand& command, const WorkerPoolOptions& options);

}  // namespace volbatch
