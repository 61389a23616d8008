// A worker's /metrics endpoint for the length of a run: serves RenderWorkerMetrics over the
// run's tallies and records the address it bound in JOBDIR/metrics/worker-IIII.json, in the
// format of Prometheus's file-based service discovery (file_sd_configs can point at
// JOBDIR/metrics/*.json), which `volbatch status` lists. An endpoint that cannot start is
// reported once on stderr and the worker computes on without it: monitoring never fails a job.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/engine/metrics_server.h"
#include "volbatch/engine/metrics_settings.h"
#include "volbatch/engine/worker_metrics.h"

namespace volbatch {

class MetricsEndpoint {
 public:
  // Serves worker `worker`'s tallies `counters` (which must outlive the endpoint).
  MetricsEndpoint(const MetricsSettings& settings, const std::string& jobdir, int worker,
                  const RunCounters& counters);
  // Waits for a scrape that sees the final tallies (at most linger_s), then stops and removes
  // the address record.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  bool serving() const { return server_ != nullptr; }
  // "host:port" as a scraper reaches it ("" if not serving).
  const std::string& target() const { return target_; }

 private:
  MetricsSettings settings_;
  std::string record_;  // the address record's path
  std::string target_;
  BlockRate rate_;
  std::unique_ptr<MetricsServer> server_;
};

// The job's name as the metrics label it: the job directory's name without ".volbatch".
std::string MetricsJobName(const std::string& jobdir);

// The address records in JOBDIR/metrics: [{"worker", "target", "pid", "host"}], by worker.
nlohmann::json ListMetricsTargets(const std::string& jobdir);

}  // namespace volbatch
