#include "volbatch/engine/metrics_endpoint.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "volbatch/core/error.h"
#include "volbatch/engine/job_dir.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

std::string HostName() {
  char h[256] = {};
  if (::gethostname(h, sizeof h - 1) != 0) return "localhost";
  return h;
}

// What a scraper connects to: the address itself, or this host's name for a wildcard one.
std::string TargetHost(const std::string& address) {
  if (address == "0.0.0.0" || address == "::" || address.empty()) return HostName();
  if (address.find(':') != std::string::npos) return "[" + address + "]";
  return address;
}

}  // namespace

std::string MetricsJobName(const std::string& jobdir) {
  std::string name = fs::path(jobdir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(jobdir).lexically_normal().parent_path().filename().string();
  const std::string suffix = ".volbatch";
  if (name.size() > suffix.size() && name.ends_with(suffix))
    name.resize(name.size() - suffix.size());
  return name;
}

MetricsEndpoint::MetricsEndpoint(const MetricsSettings& settings, const std::string& jobdir,
                                 int worker, const RunCounters& counters)
    : settings_(settings) {
  const std::string who = "volbatch: worker " + std::to_string(worker) + ": ";
  const MetricLabels labels = {{"volbatch_job", MetricsJobName(jobdir)},
                               {"worker", std::to_string(worker)}};
  try {
    const int port = settings.WorkerPort(worker);
    server_ =
        std::make_unique<MetricsServer>(settings.ListenAddress(), port, [this, &counters, labels] {
          const double rate = rate_.Update(counters.blocks_done.load(std::memory_order_relaxed),
                                           std::chrono::steady_clock::now());
          return RenderWorkerMetrics(counters, labels, ReadProcessStats(), rate);
        });
  } catch (const Error& e) {
    std::fprintf(stderr, "%s%s %d: %s; computing without a metrics endpoint\n", who.c_str(),
                 settings.source.c_str(), settings.port.value_or(0), e.what());
    return;
  }
  target_ = TargetHost(settings.ListenAddress()) + ":" + std::to_string(server_->port());
  std::fprintf(stderr, "%smetrics at http://%s/metrics\n", who.c_str(), target_.c_str());
  char name[48];
  std::snprintf(name, sizeof name, "metrics/worker-%04d.json", worker);
  const nlohmann::json record =
      nlohmann::json::array({{{"targets", {target_}},
                              {"labels",
                               {{"__meta_volbatch_worker", std::to_string(worker)},
                                {"__meta_volbatch_pid", std::to_string(::getpid())},
                                {"__meta_volbatch_host", HostName()}}}}});
  try {
    record_ = JobDir(jobdir).WriteText(name, record.dump(1) + "\n");
  } catch (const Error& e) {
    std::fprintf(stderr, "%scannot record the metrics address (%s)\n", who.c_str(), e.what());
  }
}

MetricsEndpoint::~MetricsEndpoint() {
  if (!server_) return;
  if (settings_.linger_s > 0) {
    server_->WaitForScrape(
        std::chrono::milliseconds(static_cast<int64_t>(settings_.linger_s * 1000)));
  }
  server_.reset();
  if (!record_.empty()) {
    std::error_code ignored;
    fs::remove(record_, ignored);
  }
}

nlohmann::json ListMetricsTargets(const std::string& jobdir) {
  std::map<int, nlohmann::json> by_worker;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(jobdir) / "metrics", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("worker-") || !name.ends_with(".json")) continue;
    std::ifstream in(e.path());
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    try {
      const auto& g = j.at(0);
      const auto& l = g.at("labels");
      const int worker = std::stoi(l.at("__meta_volbatch_worker").get<std::string>());
      by_worker[worker] = {{"worker", worker},
                           {"target", g.at("targets").at(0)},
                           {"pid", std::stol(l.at("__meta_volbatch_pid").get<std::string>())},
                           {"host", l.at("__meta_volbatch_host")}};
    } catch (const std::exception&) {
      // Half-written files cannot happen (atomic writes); anything else is not ours.
    }
  }
  nlohmann::json list = nlohmann::json::array();
  for (auto& [w, j] : by_worker) list.push_back(j);
  return list;
}

}  // namespace volbatch
