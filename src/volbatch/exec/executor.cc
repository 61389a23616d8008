#include "volbatch/exec/executor.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "volbatch/core/error.h"
#include "volbatch/exec/builtin.h"

namespace volbatch {
namespace {

std::map<std::string, Executor>& Registry() {
  static std::map<std::string, Executor> r;
  return r;
}
std::map<std::string, EngineStatus>& StatusRegistry() {
  static std::map<std::string, EngineStatus> r;
  return r;
}
std::once_flag builtin_once;
void EnsureBuiltins() { std::call_once(builtin_once, RegisterBuiltinExecutors); }

}  // namespace

void RegisterExecutor(const std::string& name, Executor executor, EngineStatus status) {
  Registry()[name] = std::move(executor);
  if (status) StatusRegistry()[name] = std::move(status);
}

nlohmann::json JobAndEngineStatus(const std::string& jobdir) {
  EnsureBuiltins();
  nlohmann::json s = JobStatus(jobdir);
  for (const auto& [name, status] : StatusRegistry()) {
    if (auto e = status(jobdir)) s["engines"][name] = *e;
  }
  return s;
}

std::string JobAndEngineStatusText(const nlohmann::json& status) {
  std::string text = JobStatusText(status);
  if (status.contains("engines")) {
    for (const auto& [name, e] : status["engines"].items()) {
      text += name + ": " + e.value("summary", std::string("(no summary)")) + "\n";
    }
  }
  return text;
}

std::vector<std::string> RegisteredExecutors() {
  EnsureBuiltins();
  std::vector<std::string> names;
  for (const auto& [name, e] : Registry()) names.push_back(name);
  return names;
}

const Executor& FindExecutor(const std::string& name) {
  EnsureBuiltins();
  auto it = Registry().find(name);
  if (it == Registry().end()) {
    std::string known;
    for (const auto& n : RegisteredExecutors()) known += (known.empty() ? "" : ", ") + n;
    throw InvalidArgument("--executor: \"" + name + "\" is unknown (known: " + known + ")");
  }
  return it->second;
}

int ResolveWorkers(const ExecutorOptions& options, int fallback, int most,
                   const std::string& what) {
  if (options.workers == 0 && fallback == 0) {
    throw InvalidArgument("--workers: give the number of " + what + " for the " + options.name +
                          " executor (--workers N)");
  }
  const int workers = options.workers != 0 ? options.workers : fallback;
  if (workers < 1 || workers > most) {
    throw InvalidArgument("--workers: the " + options.name + " executor runs between 1 and " +
                          std::to_string(most) + " " + what + ", got " + std::to_string(workers));
  }
  return workers;
}

std::string WorkerExecutable(const ExecutorOptions& options) {
  if (!options.executable.empty()) return options.executable;
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

std::vector<std::string> WorkArguments(const std::string& jobdir, const std::string& worker, int of,
                                       int threads, double lease_s,
                                       const MetricsSettings& metrics) {
  std::vector<std::string> args = {"work",     jobdir,
                                   "--worker", worker,
                                   "--of",     std::to_string(of),
                                   "--lease",  std::to_string(lease_s),
                                   "--quiet"};
  if (threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  for (auto& a : MetricsArguments(metrics)) args.push_back(a);
  return args;
}

std::vector<std::string> MetricsArguments(const MetricsSettings& metrics) {
  std::vector<std::string> args;
  if (metrics.port) {
    args.push_back("--metrics-port");
    args.push_back(std::to_string(*metrics.port));
    if (!metrics.address.empty()) {
      args.push_back("--metrics-address");
      args.push_back(metrics.address);
    }
    if (metrics.fixed_port) args.push_back("--metrics-fixed-port");
    if (metrics.linger_s > 0) {
      args.push_back("--metrics-linger");
      args.push_back(std::to_string(metrics.linger_s));
    }
  }
  return args;
}

std::string ShellQuote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=/.,:@%") == std::string::npos) {
    return word;
  }
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace volbatch
