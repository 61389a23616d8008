#include "volbatch/engine/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace volbatch {
namespace {

TEST(PrometheusText, FamilyWithCommonAndOwnLabels) {
  PrometheusText t({{"volbatch_job", "mito"}, {"worker", "3"}});
  t.Counter("volbatch_blocks_done_total", "Blocks done.", 12);
  t.Family("volbatch_stage_seconds_total", "counter", "Seconds per stage.");
  t.Sample("volbatch_stage_seconds_total", 1.5, {{"stage", "read"}});
  EXPECT_EQ(
      t.str(),
      "# HELP volbatch_blocks_done_total Blocks done.\n"
      "# TYPE volbatch_blocks_done_total counter\n"
      "volbatch_blocks_done_total{volbatch_job=\"mito\",worker=\"3\"} 12\n"
      "# HELP volbatch_stage_seconds_total Seconds per stage.\n"
      "# TYPE volbatch_stage_seconds_total counter\n"
      "volbatch_stage_seconds_total{volbatch_job=\"mito\",worker=\"3\",stage=\"read\"} 1.5\n");
}

TEST(PrometheusText, NoLabelsNoBraces) {
  PrometheusText t;
  t.Gauge("up_ish", "x", 1);
  EXPECT_NE(t.str().find("\nup_ish 1\n"), std::string::npos);
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  PrometheusText t;
  t.Gauge("g", "line\none \\ two", 0, {{"path", "/x/\"y\""}});
  EXPECT_NE(t.str().find("# HELP g line\\none \\\\ two\n"), std::string::npos);
  EXPECT_NE(t.str().find("g{path=\"/x/\\\"y\\\"\"} 0\n"), std::string::npos);
}

TEST(PrometheusText, Values) {
  EXPECT_EQ(FormatMetricValue(1e6), "1000000");
  EXPECT_EQ(FormatMetricValue(123456789012345.0), "123456789012345");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(std::stod(FormatMetricValue(0.1)), 0.1);
}

}  // namespace
}  // namespace volbatch
