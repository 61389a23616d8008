// A pool of N worker commands run as child processes of this one (the processes and ssh
// executors): starts them, shows progress from the ledgers, starts again a worker that died
// (up to a limit in all), forwards SIGTERM (RequestStop) to them, and returns when all exited.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace volbatch {

struct WorkerPoolOptions {
  int workers = 1;
  int restarts = 10;     // restarts allowed in all
  bool quiet = false;    // no progress line, no restart messages
  std::string jobdir;    // followed for the progress line
  std::string executor;  // for messages ("processes", "ssh")
};

struct WorkerPoolResult {
  int restarts = 0;
  std::string gave_up;  // "worker 3 died (signal 9) after 10 restarts", or ""
  int exit_code = 0;     // the last worker that did not exit 0: its exit (128 + signal)
  std::string how_it_ended;  // and "exit 1" / "signal 9"
};

// argv (argv[0] is the program, looked up on PATH) of worker I's command.
using WorkerCommand = std::function<std::vector<std::string>(int worker)>;

WorkerPoolResult RunWorkerPool(const WorkerCommand& command, const WorkerPoolOptions& options);

}  // namespace volbatch
