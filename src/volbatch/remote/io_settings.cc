#include "volbatch/remote/io_settings.h"

#include <cstdlib>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// The variable's value if set, checked to lie in [low, high].
std::optional<double> Number(const char* name, double low, double high) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != std::string(v).size() || !(x >= low && x <= high)) {
    throw InvalidArgument(std::string(name) + "=" + v + ": must be a number from " +
                          std::to_string(static_cast<int64_t>(low)) + " to " +
                          std::to_string(static_cast<int64_t>(high)));
  }
  return x;
}

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

HttpClientOptions HttpOptionsFromEnvironment() {
  HttpClientOptions o;
  if (auto n = Number("AWS_MAX_ATTEMPTS", 1, 100)) o.retry.max_attempts = static_cast<int>(*n);
  if (auto n = Number("VOLBATCH_IO_CONCURRENCY", 1, 1024)) {
    o.max_in_flight = static_cast<int>(*n);
  }
  if (auto n = Number("VOLBATCH_IO_TIMEOUT_S", 1, 3600)) {
    o.low_speed_time = std::chrono::seconds(static_cast<int64_t>(*n));
  }
  if (auto n = Number("VOLBATCH_CONNECT_TIMEOUT_S", 0.1, 600)) o.connect_timeout = Ms(*n);
  if (auto n = Number("VOLBATCH_IO_BUDGET_S", 0, 86400)) o.retry.total_budget = Ms(*n);
  return o;
}

}  // namespace volbatch
