// Where a worker's Prometheus endpoint listens: `[run] metrics_port` (and metrics_address,
// metrics_linger) in the job file, or the same as flags of `volbatch run` and `volbatch work`.
//
// The port rule: worker I listens on PORT + I, so that several workers on one host (the
// processes executor, Slurm array tasks sharing a node, MPI ranks) never collide and a
// restarted worker takes its own port back (Prometheus sees one series per worker, with a
// counter reset). Kubernetes pods each have their own address: there every worker listens on
// PORT itself (fixed_port), the port the pod's scrape annotation names. PORT 0: any free port.
// Either way each worker records the address it bound in JOBDIR/metrics/ (metrics_endpoint.h).
#pragma once

#include <optional>
#include <string>

namespace volbatch {

struct MetricsSettings {
  std::optional<int> port;  // no endpoint when absent
  std::string address;      // "" = 127.0.0.1: loopback unless configured otherwise
  bool fixed_port = false;  // every worker on `port` (one pod, one address)
  double linger_s = 0;      // after the last block, wait up to this long for a final scrape
  // What set the port, for messages ("[run] metrics_port", "--metrics-port").
  std::string source = "[run] metrics_port";

  // The port worker `worker` listens on (0: any free one). Throws InvalidArgument naming
  // `source` when PORT + worker passes 65535.
  int WorkerPort(int worker) const;
  std::string ListenAddress() const { return address.empty() ? "127.0.0.1" : address; }
};

// Checks a port number from `source`: 0 to 65535. Throws InvalidArgument naming it.
int CheckMetricsPort(long long port, const std::string& source);

}  // namespace volbatch
