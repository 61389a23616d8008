// The Prometheus text exposition format (version 0.0.4): metric families with their HELP and
// TYPE lines, samples with escaped label values. What `volbatch work`'s /metrics endpoint and
// `volbatch status --prometheus` print; `promtool check metrics` accepts it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace volbatch {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Labels every sample carries (the job, the worker), before its own.
  explicit PrometheusText(MetricLabels common = {}) : common_(std::move(common)) {}

  // Starts a family: "counter" | "gauge" | "untyped". A family's samples follow it.
  void Family(const std::string& name, const std::string& type, const std::string& help);
  // One sample of the current family (`suffix` for e.g. a counter's "_total" is part of name).
  void Sample(const std::string& name, double value, const MetricLabels& labels = {});
  // A one-sample family.
  void Gauge(const std::string& name, const std::string& help, double value,
             const MetricLabels& labels = {});
  void Counter(const std::string& name, const std::string& help, double value,
               const MetricLabels& labels = {});

  const std::string& str() const { return text_; }

 private:
  MetricLabels common_;
  std::string text_;
};

// A label value escaped for the exposition: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& value);
// A sample value: integers exactly, others shortest round-trip, NaN, +Inf, -Inf.
std::string FormatMetricValue(double value);

}  // namespace volbatch
