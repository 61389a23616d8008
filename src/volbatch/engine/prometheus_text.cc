#include "volbatch/engine/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace volbatch {

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Counters of blocks and bytes stay exact up to 2^53; std::to_chars gives the shortest
  // text that reads back as the same double (no "1e+06" for a count of a million).
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
    return std::string(buf, end);
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

void PrometheusText::Family(const std::string& name, const std::string& type,
                            const std::string& help) {
  // HELP text escapes only backslash and newline.
  std::string h;
  for (char c : help) h += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : std::string(1, c);
  text_ += "# HELP " + name + " " + h + "\n# TYPE " + name + " " + type + "\n";
}

void PrometheusText::Sample(const std::string& name, double value, const MetricLabels& labels) {
  text_ += name;
  char sep = '{';
  const MetricLabels* sets[] = {&common_, &labels};
  for (const MetricLabels* set : sets) {
    for (const auto& [k, v] : *set) {
      text_ += sep;
      text_ += k + "=\"" + EscapeLabelValue(v) + "\"";
      sep = ',';
    }
  }
  if (sep == ',') text_ += '}';
  text_ += " " + FormatMetricValue(value) + "\n";
}

void PrometheusText::Gauge(const std::string& name, const std::string& help, double value,
                           const MetricLabels& labels) {
  Family(name, "gauge", help);
  Sample(name, value, labels);
}

void PrometheusText::Counter(const std::string& name, const std::string& help, double value,
                             const MetricLabels& labels) {
  // The family of a counter "x_total" is named "x" (OpenMetrics); the text format 0.0.4 that
  // Prometheus and promtool read names the family as the sample.
  Family(name, "counter", help);
  Sample(name, value, labels);
}

}  // namespace volbatch
