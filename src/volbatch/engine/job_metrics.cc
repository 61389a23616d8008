#include "volbatch/engine/job_metrics.h"

#include <algorithm>
#include <map>

#include "volbatch/engine/ledger.h"
#include "volbatch/engine/metrics_endpoint.h"
#include "volbatch/engine/prometheus_text.h"
#include "volbatch/engine/run.h"

namespace volbatch {
namespace {

// The window the block rate (and so the ETA) is measured over.
constexpr double kRateWindowS = 300;

struct Recent {
  double rate = 0;      // blocks per second over the window (0: none recorded in it)
  double newest_s = 0;  // the newest record's time, seconds since the epoch (0: none)
};

Recent RecentRate(const std::string& jobdir, double now_s) {
  Recent r;
  double oldest_s = now_s;
  int64_t in_window = 0;
  for (const LedgerHistory& h : ReadLedgerHistories(jobdir)) {
    for (const LedgerRecord& rec : h.records) {
      if (rec.status != BlockStatus::kDone) continue;
      const double t = static_cast<double>(rec.time_ms) / 1000;
      r.newest_s = std::max(r.newest_s, t);
      oldest_s = std::min(oldest_s, t - static_cast<double>(rec.duration_ms) / 1000);
      if (t >= now_s - kRateWindowS) ++in_window;
    }
  }
  // A job younger than the window is measured over its own age.
  const double span = std::min(kRateWindowS, now_s - oldest_s);
  if (in_window > 0 && span > 0) r.rate = static_cast<double>(in_window) / span;
  return r;
}

}  // namespace

std::string JobPrometheusText(const std::string& jobdir,
                              std::chrono::system_clock::time_point now) {
  const nlohmann::json s = JobStatus(jobdir);
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double total = s["blocks_total"].get<double>();
  const double done = s["blocks_done"].get<double>();
  const double remaining = s["blocks_remaining"].get<double>();
  const Recent recent = RecentRate(jobdir, now_s);

  PrometheusText t({{"volbatch_job", MetricsJobName(jobdir)}});
  t.Gauge("volbatch_job_info", "The job: 1, with its directory and fingerprint as labels.", 1,
          {{"jobdir", s["jobdir"].get<std::string>()},
           {"fingerprint", s["fingerprint"].get<std::string>()}});
  t.Gauge("volbatch_job_blocks", "Blocks in the job.", total);
  t.Gauge("volbatch_job_blocks_done", "Blocks the ledgers record done.", done);
  t.Gauge("volbatch_job_blocks_failed", "Blocks whose latest ledger record is a failure.",
          s["blocks_failed"].get<double>());
  t.Gauge("volbatch_job_blocks_remaining", "Blocks not done.", remaining);
  t.Gauge("volbatch_job_ledger_bad_records", "Ledger records ignored (bad checksum, torn).",
          s["bad_records"].get<double>());
  t.Gauge("volbatch_job_block_rate",
          "Blocks per second recorded done over the last 5 minutes (or the job's age).",
          recent.rate);
  if (recent.newest_s > 0) {
    t.Gauge("volbatch_job_last_done_time_seconds",
            "When the newest block was recorded done, seconds since the Unix epoch.",
            recent.newest_s);
  }
  // Unknown while nothing was done recently: no sample rather than a made-up number.
  if (remaining == 0 || recent.rate > 0) {
    t.Gauge("volbatch_job_eta_seconds", "Seconds until every block is done at the recent rate.",
            remaining == 0 ? 0 : remaining / recent.rate);
  }
  // A worker may hold several holder files (restarted processes): its freshest counts.
  std::map<int, double> age;
  for (const auto& h : s["in_flight"]) {
    const int w = h.value("worker", -1);
    const double a = h.value("age_s", 0.0);
    age[w] = age.count(w) ? std::min(age[w], a) : a;
  }
  if (!age.empty()) {
    t.Family("volbatch_job_worker_heartbeat_age_seconds", "gauge",
             "Seconds since each worker holding blocks last refreshed its claims.");
    for (const auto& [w, a] : age) {
      t.Sample("volbatch_job_worker_heartbeat_age_seconds", a, {{"worker", std::to_string(w)}});
    }
  }
  t.Gauge("volbatch_job_metrics_endpoints", "Workers with a recorded metrics endpoint.",
          static_cast<double>(ListMetricsTargets(jobdir).size()));
  return t.str();
}

}  // namespace volbatch
