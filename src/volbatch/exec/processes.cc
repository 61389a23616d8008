#include "volbatch/exec/processes.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

pid_t StartWorker(const std::string& exe, const std::string& jobdir, int worker, int of,
                  int threads, double lease_s) {
  std::vector<std::string> args = {exe,
                                   "work",
                                   jobdir,
                                   "--worker",
                                   std::to_string(worker),
                                   "--of",
                                   std::to_string(of),
                                   "--lease",
                                   std::to_string(lease_s),
                                   "--quiet"};
  if (threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw IoError(std::string("cannot start a worker: ") + std::strerror(errno));
  if (pid == 0) {
    ::execv(exe.c_str(), argv.data());
    std::fprintf(stderr, "volbatch: cannot run %s: %s\n", exe.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

ProcessesResult RunWithProcesses(const JobSpec& spec, const RunOptions& run,
                                 const ProcessesOptions& o) {
  if (o.workers < 1 || o.workers > 4096) {
    throw InvalidArgument("--workers: must be between 1 and 4096, got " +
                          std::to_string(o.workers));
  }
  PreparedJob p = PrepareJob(spec, run);
  const std::string jobdir = p.job.jobdir;
  const std::string exe =
      o.executable.empty() ? fs::read_symlink("/proc/self/exe").string() : o.executable;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = o.threads > 0 ? o.threads : std::max(1, cores / o.workers);

  ProcessesResult result;
  std::map<pid_t, int> running;  // pid -> worker index
  for (int w = 0; w < o.workers; ++w) {
    running[StartWorker(exe, jobdir, w, o.workers, threads, o.lease_s)] = w;
  }
  bool forwarded = false;
  std::string gave_up;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      if (StopRequested() && !forwarded) {
        for (const auto& [child, w] : running) ::kill(child, SIGTERM);
        forwarded = true;
      }
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
    // A worker that exits kWorkBlocksFailed finished its share with failed blocks (recorded in
    // the ledger); one killed by a signal or exiting otherwise died and is started again.
    const bool died =
        WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != kWorkBlocksFailed);
    if (clean || !died || StopRequested()) continue;
    if (result.restarts >= o.restarts) {
      gave_up = "worker " + std::to_string(w) + " died " +
                (WIFSIGNALED(status) ? "(signal " + std::to_string(WTERMSIG(status)) + ")"
                                     : "(exit " + std::to_string(WEXITSTATUS(status)) + ")") +
                " after " + std::to_string(result.restarts) + " restarts";
      continue;
    }
    ++result.restarts;
    if (!o.quiet) {
      std::cerr << "volbatch: worker " << w << " died; starting it again (" << result.restarts
                << " of " << o.restarts << " restarts)\n";
    }
    running[StartWorker(exe, jobdir, w, o.workers, threads, o.lease_s)] = w;
  }
  // Every worker has exited: a claim still on disk belongs to one that was killed after
  // recording its block (or while computing it), and a temporary beside a chunk to one
  // killed mid-write. Neither has an owner any more.
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(jobdir) / "claims", ec), end; !ec && it != end;
       it.increment(ec)) {
    fs::remove(it->path(), ec);
  }
  p.output->SweepTemporaries();
  result.status = JobStatus(jobdir);
  result.complete = result.status["blocks_remaining"].get<Index>() == 0;
  if (!gave_up.empty()) result.status["gave_up"] = gave_up;
  return result;
}

}  // namespace volbatch
