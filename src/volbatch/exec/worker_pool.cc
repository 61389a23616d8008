#include "volbatch/exec/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "volbatch/core/error.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/ledger_progress.h"
#include "volbatch/exec/restart_policy.h"
#include "volbatch/exec/spawn_server.h"
#include "volbatch/exec/worker_output.h"

namespace volbatch {
namespace {

using Clock = std::chrono::steady_clock;

// The pool looks at least this often at its workers, SIGTERM and the progress line.
constexpr auto kTick = std::chrono::milliseconds(50);

// A descriptor closed when it goes out of scope, unless released.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct Pipe {
  UniqueFd read, write;
};

Pipe MakePipe() {
  int fds[2];
  // Close-on-exec: no worker inherits another's pipe (which would hold its end of file off).
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw IoError(std::string("cannot make a pipe for a worker: ") + ErrnoText(errno));
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// In the child, between fork and exec: `fd` becomes `target` (and survives the exec).
void Redirect(int fd, int target) {
  if (fd == target) {
    ::fcntl(fd, F_SETFD, 0);
  } else {
    ::dup2(fd, target);
  }
}

pid_t Spawn(std::vector<std::string> args, int out, int err) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw IoError(std::string("cannot start a worker: ") + ErrnoText(errno));
  if (pid == 0) {
    Redirect(out, STDOUT_FILENO);
    Redirect(err, STDERR_FILENO);
    // Should this process die, a worker's writes fail instead of killing it (worker_output.h).
    ::signal(SIGPIPE, SIG_IGN);
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

std::string SecondsText(RestartPolicy::Duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g s", static_cast<double>(d.count()) / 1000);
  return text;
}

struct Worker {
  int index = 0;
  pid_t pid = 0;         // > 0 while it runs
  bool pending = false;  // to be started again at `due`
  Clock::time_point due;
  size_t records_at_start = 0;  // its ledger's records when it was last started
  RestartPolicy policy;
  std::unique_ptr<LineRelay> out, err;
  std::string last_line;  // the last non-blank line it printed, on either stream
};

class Pool {
 public:
  Pool(const WorkerCommand& command, const WorkerPoolOptions& o)
      : command_(command), o_(o), workers_(static_cast<size_t>(std::max(0, o.workers))) {
    for (size_t i = 0; i < workers_.size(); ++i) workers_[i].index = static_cast<int>(i);
    if (!o.jobdir.empty()) progress_.emplace(o.jobdir, !o.quiet);
  }

  WorkerPoolResult Run() {
    for (Worker& w : workers_) Start(w);
    auto polled = Clock::now();
    while (Busy()) {
      Pump();
      Reap();
      if (StopRequested()) ForwardStop();
      StartDue();
      if (progress_ && Clock::now() - polled >= kTick) {
        progress_->Poll();
        polled = Clock::now();
      }
    }
    if (progress_) {
      progress_->Poll();
      progress_->Finish();
    }
    if (!reasons_.empty()) {
      result_.gave_up = reasons_.front();
      if (reasons_.size() > 1) {
        result_.gave_up += "; and " + std::to_string(reasons_.size() - 1) + " more";
      }
    }
    return result_;
  }

 private:
  std::string Name(int w) const { return o_.name ? o_.name(w) : "worker " + std::to_string(w); }

  bool Busy() const {
    return std::any_of(workers_.begin(), workers_.end(),
                       [](const Worker& w) { return w.pid > 0 || w.pending; });
  }

  int Pending() const {
    return static_cast<int>(
        std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) { return w.pending; }));
  }

  // One of our own lines on stderr, below the progress line.
  void Say(const std::string& line) {
    if (progress_) progress_->Finish();
    std::cerr << line << "\n";
  }

  void Relay(size_t i, const std::string& line, bool to_stderr) {
    std::string trimmed = line;
    while (!trimmed.empty() && (trimmed.back() == '\r' || trimmed.back() == ' ')) {
      trimmed.pop_back();
    }
    if (!trimmed.empty()) workers_[i].last_line = std::move(trimmed);
    if (progress_) progress_->Finish();
    std::ostream& to = to_stderr ? std::cerr : std::cout;
    to << line << "\n";
    to.flush();
  }

  void Start(Worker& w) {
    // Before the worker runs: a record it appends must count as its own.
    w.records_at_start = o_.jobdir.empty() ? 0 : LedgerRecords(o_.jobdir, w.index);
    Pipe out = MakePipe(), err = MakePipe();
    std::vector<std::string> args = command_(w.index);
    std::optional<pid_t> pid = StartThroughServer(args, out.write.get(), err.write.get());
    w.pid = pid ? *pid : Spawn(std::move(args), out.write.get(), err.write.get());
    // Our copies of the write ends close here: a pipe ends when the worker's copies do.
    const size_t i = static_cast<size_t>(w.index);
    w.out = std::make_unique<LineRelay>(
        out.read.Release(), [this, i](const std::string& line) { Relay(i, line, false); });
    w.err = std::make_unique<LineRelay>(
        err.read.Release(), [this, i](const std::string& line) { Relay(i, line, true); });
  }

  // The worker started by the spawn server (spawn_server.h), the first time started with it;
  // nullopt when there is none or it failed (then exec).
  std::optional<pid_t> StartThroughServer(const std::vector<std::string>& args, int out, int err) {
    if (!server_tried_) {
      server_tried_ = true;
      // Room for the longest command line: the last worker's index has the most digits.
      const std::vector<std::string> last = command_(static_cast<int>(workers_.size()) - 1);
      size_t room = 0;
      for (const auto& a : last) room += a.size() + 1;
      if (!args.empty()) server_ = SpawnServer::Start(args[0], room);
    }
    if (!server_) return std::nullopt;
    std::optional<pid_t> pid = server_->Spawn(args, out, err);
    if (!pid) server_.reset();
    return pid;
  }

  // Relays what the workers printed; waits at most a tick, or until a restart is due.
  void Pump() {
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kTick);
    const auto now = Clock::now();
    for (const Worker& w : workers_) {
      if (w.pending) {
        timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(
                                        std::max(w.due - now, Clock::duration::zero())));
      }
    }
    std::vector<pollfd> fds;
    std::vector<LineRelay*> relays;
    for (Worker& w : workers_) {
      for (LineRelay* r : {w.out.get(), w.err.get()}) {
        if (r && r->fd() >= 0) {
          fds.push_back({r->fd(), POLLIN, 0});
          relays.push_back(r);
        }
      }
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (n <= 0) return;  // nothing to read, or EINTR (SIGTERM: looked at by the caller)
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents != 0) relays[k]->Pump();
    }
  }

  void Reap() {
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid == 0) return;
      if (pid < 0) {
        if (errno == EINTR) continue;
        // No child left (ECHILD): none of ours runs, whatever we thought.
        for (Worker& w : workers_) w.pid = 0;
        return;
      }
      for (Worker& w : workers_) {
        if (w.pid == pid) Ended(w, status);
      }
    }
  }

  void Ended(Worker& w, int status) {
    w.pid = 0;
    // Everything it printed is in its pipes: relay it before deciding, so its last line is.
    for (auto* r : {&w.out, &w.err}) {
      if (*r) (*r)->Drain();
      r->reset();
    }
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
      result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      result_.how_it_ended = HowItEnded(status);
    }
    // A worker that exits kWorkBlocksFailed finished its share with failed blocks (recorded in
    // the ledger); one killed by a signal or exiting otherwise died and is started again.
    const bool died =
        WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != kWorkBlocksFailed);
    if (clean || !died || StopRequested()) return;
    Died(w, status);
  }

  void Died(Worker& w, int status) {
    // Without a job directory to look at, count every life as a good one (no pause, no end).
    const bool recorded =
        o_.jobdir.empty() || LedgerRecords(o_.jobdir, w.index) > w.records_at_start;
    const RestartPolicy::Decision d = w.policy.Died(recorded);
    const std::string how = HowItEnded(status);
    if (!d.restart) {
      const std::string reason =
          o_.executor + " " + Name(w.index) + " died " + std::to_string(d.deaths_in_a_row) +
          " times without recording a block (" + how + "); not restarting it; " +
          (w.last_line.empty() ? "it printed nothing"
                               : "its last line: \"" + Shortened(w.last_line) + "\"");
      // Even when quiet: the others may finish the job, and this worker's problem stays.
      Say("volbatch: " + reason);
      reasons_.push_back(reason);
      result_.given_up.push_back(w.index);
      return;
    }
    if (result_.restarts + Pending() >= o_.restarts) {
      reasons_.push_back(Name(w.index) + " died (" + how + ") after " +
                         std::to_string(result_.restarts) + " restarts");
      return;
    }
    w.pending = true;
    w.due = Clock::now() + d.delay;
    if (!o_.quiet) {
      Say("volbatch: " + o_.executor + " " + Name(w.index) + " died (" + how +
          "); starting it again" + (d.delay.count() > 0 ? " in " + SecondsText(d.delay) : "") +
          " (" + std::to_string(result_.restarts + Pending()) + " of " +
          std::to_string(o_.restarts) + " restarts)");
    }
  }

  void StartDue() {
    if (StopRequested()) return;
    const auto now = Clock::now();
    for (Worker& w : workers_) {
      if (w.pending && w.due <= now) {
        w.pending = false;
        ++result_.restarts;
        Start(w);
      }
    }
  }

  // Once: SIGTERM to every worker running; those waiting to start again are not started.
  void ForwardStop() {
    if (forwarded_) return;
    forwarded_ = true;
    for (Worker& w : workers_) {
      if (w.pid > 0) ::kill(w.pid, SIGTERM);
      w.pending = false;
    }
  }

  const WorkerCommand& command_;
  const WorkerPoolOptions& o_;
  std::vector<Worker> workers_;
  std::optional<LedgerProgress> progress_;
  WorkerPoolResult result_;
  std::vector<std::string> reasons_;  // why workers were not started again, in order
  bool forwarded_ = false;
  bool server_tried_ = false;
  std::unique_ptr<SpawnServer> server_;
};

}  // namespace

WorkerPoolResult RunWorkerPool(const WorkerCommand& command, const WorkerPoolOptions& options) {
  return Pool(command, options).Run();
}

}  // namespace volbatch
