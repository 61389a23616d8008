// `volbatch status JOBDIR --prometheus`: the job's own view in the Prometheus text format, from
// its ledgers and claims (no worker needs to be running): blocks done and in all, failures,
// each worker's last heartbeat age, the recent block rate and the ETA. For node_exporter's
// textfile collector or a cron job; the names start volbatch_job_ (the workers' own endpoints
// serve volbatch_*_total counters).
#pragma once

#include <chrono>
#include <string>

namespace volbatch {

std::string JobPrometheusText(const std::string& jobdir, std::chrono::system_clock::time_point now =
                                                             std::chrono::system_clock::now());

}  // namespace volbatch
