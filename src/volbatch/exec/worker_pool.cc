#include "volbatch/exec/worker_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/ledger_progress.h"

namespace volbatch {
namespace {

pid_t Start(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw IoError(std::string("cannot start a worker: ") + ErrnoText(errno));
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "volbatch: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

std::string HowItEnded(int status) {
  return WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                             : "exit " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

WorkerPoolResult RunWorkerPool(const WorkerCommand& command, const WorkerPoolOptions& o) {
  WorkerPoolResult result;
  std::optional<LedgerProgress> progress;
  if (!o.jobdir.empty()) progress.emplace(o.jobdir, !o.quiet);
  std::map<pid_t, int> running;  // pid -> worker index
  for (int w = 0; w < o.workers; ++w) running[Start(command(w))] = w;
  bool forwarded = false;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      if (StopRequested() && !forwarded) {
        for (const auto& [child, w] : running) ::kill(child, SIGTERM);
        forwarded = true;
      }
      if (progress) progress->Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const int w = it->second;
    running.erase(it);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      result.how_it_ended = HowItEnded(status);
    }
    // A worker that exits kWorkBlocksFailed finished its share with failed blocks (recorded in
    // the ledger); one killed by a signal or exiting otherwise died and is started again.
    const bool died =
        WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != kWorkBlocksFailed);
    if (clean || !died || StopRequested()) continue;
    if (result.restarts >= o.restarts) {
      result.gave_up = "worker " + std::to_string(w) + " died (" + HowItEnded(status) +
                       ") after " + std::to_string(result.restarts) + " restarts";
      continue;
    }
    ++result.restarts;
    if (!o.quiet) {
      if (progress) progress->Finish();
      std::cerr << "volbatch: " << o.executor << " worker " << w << " died (" << HowItEnded(status)
                << "); starting it again (" << result.restarts << " of " << o.restarts
                << " restarts)\n";
    }
    running[Start(command(w))] = w;
  }
  if (progress) {
    progress->Poll();
    progress->Finish();
  }
  return result;
}

}  // namespace volbatch
