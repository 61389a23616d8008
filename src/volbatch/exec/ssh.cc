#include "volbatch/exec/ssh.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <iostream>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/claims.h"
#include "volbatch/engine/run.h"
#include "volbatch/exec/command.h"
#include "volbatch/exec/executor.h"
#include "volbatch/exec/processes.h"
#include "volbatch/exec/worker_output.h"
#include "volbatch/exec/worker_pool.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

namespace {

// A host name must reach ssh as its destination: a word that ssh cannot take for an option.
void CheckHost(const ParamTable& table, const std::string& host) {
  if (host.empty()) throw table.Bad("hosts", "an empty host name");
  if (host.front() == '-') throw table.Bad("hosts", "\"" + host + "\" is not a host name");
  for (unsigned char c : host) {
    if (c <= ' ' || c == 0x7f) {
      throw table.Bad("hosts", "\"" + host + "\" is not a host name (space or control character)");
    }
  }
}

std::vector<std::string> SshCommon(const SshSettings& s) {
  // No prompt can ever wait for an answer (BatchMode), and a host that does not answer is
  // given up after ConnectTimeout.
  std::vector<std::string> argv = {s.ssh, "-n", "-o", "BatchMode=yes", "-o"};
  argv.push_back("ConnectTimeout=" + std::to_string(s.connect_timeout_s));
  argv.insert(argv.end(), s.options.begin(), s.options.end());
  // After the user's options, so that theirs win (ssh keeps the first value of an option):
  // no "Warning: Permanently added" or "Connection closed" chatter, and a host that stops
  // answering mid-run ends its session within 30 s (the worker is then started again).
  for (const char* o : {"LogLevel=ERROR", "ServerAliveInterval=10", "ServerAliveCountMax=3"}) {
    argv.push_back("-o");
    argv.push_back(o);
  }
  return argv;
}

// Every host answers, has volbatch and sees the job directory; checked in parallel, before any
// worker starts, so that a typo or a host that is down is one clear line and not ten restarts.
void ProbeHosts(const SshSettings& s, const std::string& jobdir) {
  std::vector<std::string> hosts;
  for (const auto& h : s.hosts) {
    if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
  }
  const auto timeout = std::chrono::seconds(s.connect_timeout_s + 30);
  std::vector<std::future<CommandResult>> probes;
  for (const auto& h : hosts) {
    probes.push_back(std::async(std::launch::async, [&s, &jobdir, h, timeout] {
      return RunCommand(SshProbeArgv(s, h, jobdir), "", timeout);
    }));
  }
  std::string problem;
  for (size_t i = 0; i < hosts.size(); ++i) {
    const CommandResult r = probes[i].get();
    if (problem.empty()) {
      problem = SshProbeProblem(s, hosts[i], jobdir, r.exit_code, r.err, r.timed_out);
    }
  }
  if (!problem.empty()) throw FailedPrecondition(problem);
}

// Remote workers hear that their session ended only through SIGHUP, and then finish the blocks
// in hand: wait (at most a lease) until no holder is fresh, so that RemoveOrphans does not take
// a claim or a temporary file from under a worker still writing. A live worker touches its
// holder file every lease/4; one older than that (and a margin) has no live worker.
void AwaitRemoteClaims(const std::string& jobdir, double lease_s, bool quiet) {
  using Clock = std::chrono::steady_clock;
  const double fresh_s = std::min(lease_s, lease_s / 4 + 2);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(lease_s);
  bool told = false;
  while (Clock::now() < deadline) {
    size_t fresh = 0;
    for (const auto& c : ListHolders(jobdir)) fresh += c.age_s < fresh_s ? 1 : 0;
    if (fresh == 0) return;
    if (!quiet && !told && Clock::now() - start > std::chrono::seconds(2)) {
      std::cerr << "volbatch: waiting (at most " << lease_s << " s) for " << fresh
                << " workers' claims to go quiet (blocks a remote worker may still be "
                   "finishing)\n";
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

ExecutorResult RunSsh(const JobSpec& spec, const RunOptions& run, const ExecutorOptions& o) {
  const SshSettings s = ReadSshSettings(o.table, WorkerExecutable(o));
  const int workers = ResolveWorkers(o, static_cast<int>(s.hosts.size()), 4096, "workers");
  PreparedJob p = PrepareJob(spec, run);
  const std::string jobdir = p.job.jobdir;
  ProbeHosts(s, jobdir);
  if (StopRequested()) return ResultFromStatus(jobdir);

  WorkerPoolOptions pool;
  pool.workers = workers;
  pool.restarts = o.restarts;
  pool.quiet = o.quiet;
  pool.jobdir = jobdir;
  pool.executor = "ssh";
  pool.name = [&s](int w) { return "worker " + std::to_string(w) + " on " + HostOfWorker(s, w); };
  std::vector<int> starts(static_cast<size_t>(workers), 0);
  const WorkerPoolResult r = RunWorkerPool(
      [&](int w) -> std::vector<std::string> {
        // A worker that died after the last block was recorded has nothing left to do: do not
        // open a session for it (it could be a host that went down, costing ConnectTimeout).
        if (starts[static_cast<size_t>(w)]++ > 0) {
          try {
            if (JobStatus(jobdir)["blocks_remaining"].get<Index>() == 0) return {"true"};
          } catch (const std::exception&) {  // start it; it will find out itself
          }
        }
        std::vector<std::string> words = {s.volbatch};
        for (auto& a : WorkArguments(jobdir, std::to_string(w), workers, o.threads, o.lease_s,
                                     spec.run.metrics)) {
          words.push_back(a);
        }
        return SshWorkerArgv(s, HostOfWorker(s, w), RemoteExec(words));
      },
      pool);
  AwaitRemoteClaims(jobdir, o.lease_s, o.quiet);
  RemoveOrphans(p);
  ExecutorResult result = ResultFromStatus(jobdir);
  result.restarts = r.restarts;
  if (!r.gave_up.empty()) {
    std::string gave_up = r.gave_up;
    if (gave_up.find("(exit 255)") != std::string::npos) {
      gave_up += "; ssh exit 255: the connection failed or the remote worker was killed";
    }
    result.status["gave_up"] = gave_up;
    if (!result.complete) result.problem += " (" + gave_up + ")";
  }
  return result;
}

}  // namespace

SshSettings ReadSshSettings(const nlohmann::json& table, const std::string& volbatch) {
  ParamTable t(table, 0, "run.ssh");
  SshSettings s;
  const nlohmann::json* hosts = t.Raw("hosts");
  if (!hosts) {
    throw t.Bad("hosts", "missing: the hosts to run workers on (or --hosts h1,h2,...)");
  }
  if (!hosts->is_array() || hosts->empty()) {
    throw t.Bad("hosts", "must be a non-empty list of host names (or --hosts h1,h2,...)");
  }
  for (const auto& h : *hosts) {
    if (!h.is_string()) throw t.Bad("hosts", "must be a list of strings, got " + h.dump());
    CheckHost(t, h.get<std::string>());
    s.hosts.push_back(h.get<std::string>());
  }
  s.ssh = t.String("ssh", "ssh");
  if (s.ssh.empty()) throw t.Bad("ssh", "an empty program name");
  if (const nlohmann::json* options = t.Raw("options")) {
    if (!options->is_array()) {
      throw t.Bad("options", "must be a list of ssh arguments, e.g. [\"-p\", \"2222\"]");
    }
    for (const auto& a : *options) {
      if (a.is_string()) {
        s.options.push_back(a.get<std::string>());
      } else if (a.is_number_integer()) {  // ["-p", 2222]
        s.options.push_back(a.dump());
      } else {
        throw t.Bad("options", "must be a list of strings, got " + a.dump());
      }
    }
  }
  s.volbatch = t.String("volbatch", volbatch);
  if (s.volbatch.empty()) throw t.Bad("volbatch", "an empty path");
  const double timeout = t.Number("connect_timeout_s", 10);
  if (!(timeout > 0 && timeout <= 3600)) {
    throw t.Bad("connect_timeout_s", "must be between 0 and 3600 seconds");
  }
  s.connect_timeout_s = std::max(1, static_cast<int>(std::ceil(timeout)));
  t.Finish();
  return s;
}

const std::string& HostOfWorker(const SshSettings& settings, int worker) {
  return settings.hosts.at(static_cast<size_t>(worker) % settings.hosts.size());
}

std::string RemoteExec(const std::vector<std::string>& words) {
  std::string command = "exec";
  for (const auto& w : words) command += " " + ShellQuote(w);
  return command;
}

std::vector<std::string> SshWorkerArgv(const SshSettings& settings, const std::string& host,
                                       const std::string& remote_command) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" </dev/null", "sh"};
  const std::vector<std::string> ssh = SshCommon(settings);
  argv.insert(argv.end(), ssh.begin(), ssh.end());
  argv.insert(argv.begin() + 5, "-tt");
  argv.push_back(host);
  argv.push_back("--");
  argv.push_back(remote_command);
  return argv;
}

std::vector<std::string> SshProbeArgv(const SshSettings& settings, const std::string& host,
                                      const std::string& jobdir) {
  const std::string& exe = settings.volbatch;
  const std::string has_exe = exe.find('/') != std::string::npos
                                  ? "test -f " + ShellQuote(exe) + " && test -x " + ShellQuote(exe)
                                  : "command -v " + ShellQuote(exe) + " >/dev/null 2>&1";
  std::vector<std::string> argv = SshCommon(settings);
  argv.push_back(host);
  argv.push_back("--");
  argv.push_back("{ " + has_exe + "; } || exit " + std::to_string(kSshProbeNoVolbatch) +
                 "; test -f " + ShellQuote(jobdir + "/job.json") + " || exit " +
                 std::to_string(kSshProbeNoJobDir));
  return argv;
}

std::string SshProbeProblem(const SshSettings& settings, const std::string& host,
                            const std::string& jobdir, int exit_code, const std::string& err,
                            bool timed_out) {
  if (timed_out) {
    return "[run.ssh] hosts: " + host + " did not answer within " +
           std::to_string(settings.connect_timeout_s + 30) + " s";
  }
  switch (exit_code) {
    case 0:
      return "";
    case -1:
      return "[run.ssh] ssh: cannot run \"" + settings.ssh + "\" (" + LastLine(err) + ")";
    case kSshProbeNoVolbatch:
      return "[run.ssh] volbatch: " + settings.volbatch + " is not an executable on " + host;
    case kSshProbeNoJobDir:
      return "the job directory " + jobdir + " is not visible on " + host +
             " (every host must see it at the same path, on a shared filesystem)";
    default: {
      const std::string why = LastLine(err);
      return "[run.ssh] hosts: cannot run a command on " + host + " with ssh (" +
             (why.empty() ? "exit " + std::to_string(exit_code) : why) + ")";
    }
  }
}

void RegisterSshExecutor() { RegisterExecutor("ssh", RunSsh); }

}  // namespace volbatch
