#include "volbatch/engine/worker_metrics.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

TEST(WorkerMetrics, ParseProcStatCountsFieldsAfterTheCommand) {
  // The command holds a space and a parenthesis; fields 14/15 (utime, stime) are 250 and 50
  // ticks, field 20 four threads, 22 the start at 1000 ticks, 23 the virtual size, 24 RSS pages.
  const std::string stat =
      "42 (vol batch) w) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 4 0 1000 "
      "123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  const ProcessStats p = ParseProcStat(stat, 100, 4096, 1.7e9);
  EXPECT_DOUBLE_EQ(p.cpu_seconds, 3.0);
  EXPECT_EQ(p.threads, 4);
  EXPECT_DOUBLE_EQ(p.start_time_s, 1.7e9 + 10);
  EXPECT_EQ(p.virtual_bytes, 123456789);
  EXPECT_EQ(p.resident_bytes, 2048 * 4096);
  EXPECT_EQ(ParseProcStat("garbage", 100, 4096, 0).threads, 0);
}

TEST(WorkerMetrics, ReadsThisProcess) {
  const ProcessStats p = ReadProcessStats();
  EXPECT_GT(p.resident_bytes, 0);
  EXPECT_GE(p.threads, 1);
  EXPECT_GT(p.start_time_s, 1e9);
}

TEST(WorkerMetrics, BlockRateOverTheWindow) {
  BlockRate r(std::chrono::seconds(10));
  const auto t0 = std::chrono::steady_clock::now();
  using std::chrono::seconds;
  EXPECT_NEAR(r.Update(10, t0 + seconds(5)), 2.0, 0.01);
  EXPECT_NEAR(r.Update(30, t0 + seconds(10)), 3.0, 0.01);
  // The base moves to the newest sample at least 10 s old (t0 + 10 s: 30 blocks).
  EXPECT_NEAR(r.Update(40, t0 + seconds(20)), 1.0, 0.01);
  EXPECT_NEAR(r.Update(52, t0 + seconds(26)), 22.0 / 16, 0.01);  // t0 + 20 s is 6 s old
}

TEST(WorkerMetrics, RenderHasTheNamesLabelsAndUnits) {
  RunCounters c;
  c.blocks_done = 7;
  c.read_ns = 1'500'000'000;
  c.bytes_written = 1 << 20;
  const std::string text =
      RenderWorkerMetrics(c, {{"volbatch_job", "mito"}, {"worker", "2"}}, ReadProcessStats(), 0.5);
  for (const char* line : {
           "volbatch_blocks_done_total{volbatch_job=\"mito\",worker=\"2\"} 7\n",
           "volbatch_stage_seconds_total{volbatch_job=\"mito\",worker=\"2\",stage=\"read\"} 1.5\n",
           "volbatch_written_bytes_total{volbatch_job=\"mito\",worker=\"2\"} 1048576\n",
           "volbatch_block_rate{volbatch_job=\"mito\",worker=\"2\"} 0.5\n",
           "# TYPE process_cpu_seconds_total counter\n",
           "# TYPE process_resident_memory_bytes gauge\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin\n" << text;
  }
  EXPECT_NE(text.find("volbatch_build_info{volbatch_job=\"mito\",worker=\"2\",version=\""),
            std::string::npos);
}

}  // namespace
}  // namespace volbatch
