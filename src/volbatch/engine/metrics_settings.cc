#include "volbatch/engine/metrics_settings.h"

#include "volbatch/core/error.h"

namespace volbatch {

int CheckMetricsPort(long long port, const std::string& source) {
  if (port < 0 || port > 65535) {
    throw InvalidArgument(source + ": " + std::to_string(port) +
                          " is not a port (1 to 65535; 0: any free port)");
  }
  return static_cast<int>(port);
}

int MetricsSettings::WorkerPort(int worker) const {
  const int base = port.value_or(0);
  if (base == 0 || fixed_port) return base;
  const long long p = static_cast<long long>(base) + worker;
  if (p > 65535) {
    throw InvalidArgument(source + ": " + std::to_string(base) + " + worker index " +
                          std::to_string(worker) +
                          " passes 65535 (worker I listens on PORT + I): choose a lower port "
                          "or 0 for any free port");
  }
  return static_cast<int>(p);
}

}  // namespace volbatch
