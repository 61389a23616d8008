#include "volbatch/engine/job_metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "volbatch/engine/ledger.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

// A job directory of 8 blocks (64^3 in 32^3) with the job.json fields `status` reads.
std::string JobDirOf8Blocks() {
  std::random_device rd;
  const fs::path d =
      fs::temp_directory_path() / ("vb-jobmetrics-" + std::to_string(rd())) / "seg.volbatch";
  fs::create_directories(d);
  std::ofstream(d / "job.json") << R"({"fingerprint": "0123456789abcdef", "identity": {)"
                                << R"("output": {"shape": [64, 64, 64]},)"
                                << R"("tiling": {"block": [32, 32, 32]}}})";
  return d.string();
}

uint64_t Ms(system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count());
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(JobMetrics, BlocksFailuresRateAndEtaFromTheLedgers) {
  const std::string jobdir = JobDirOf8Blocks();
  const auto now = system_clock::now();
  {
    LedgerWriter w(jobdir, 0);
    // Six blocks done, one a second, each taking a second: 6 blocks over the 7 s since the
    // first began. One more failed.
    for (int k = 1; k <= 6; ++k) {
      w.Append(LedgerRecord{BlockStatus::kDone, k - 1, Ms(now - seconds(k)), 1000});
    }
    w.Append(LedgerRecord{BlockStatus::kFailed, 6, Ms(now - seconds(1)), 10});
  }
  const std::string t = JobPrometheusText(jobdir, now);
  EXPECT_TRUE(Has(t, R"(volbatch_job_blocks{volbatch_job="seg"} 8)")) << t;
  EXPECT_TRUE(Has(t, R"(volbatch_job_blocks_done{volbatch_job="seg"} 6)")) << t;
  EXPECT_TRUE(Has(t, R"(volbatch_job_blocks_failed{volbatch_job="seg"} 1)")) << t;
  EXPECT_TRUE(Has(t, R"(volbatch_job_blocks_remaining{volbatch_job="seg"} 2)")) << t;
  const size_t rate = t.find("volbatch_job_block_rate{volbatch_job=\"seg\"} ");
  ASSERT_NE(rate, std::string::npos);
  EXPECT_NEAR(std::stod(t.substr(t.find(' ', rate) + 1)), 6.0 / 7, 0.01);
  const size_t eta = t.find("volbatch_job_eta_seconds{volbatch_job=\"seg\"} ");
  ASSERT_NE(eta, std::string::npos);
  EXPECT_NEAR(std::stod(t.substr(t.find(' ', eta) + 1)), 2 / (6.0 / 7), 0.02);
  EXPECT_NE(t.find("# TYPE volbatch_job_blocks_done gauge\n"), std::string::npos);
  fs::remove_all(fs::path(jobdir).parent_path());
}

TEST(JobMetrics, NoEtaWithoutRecentBlocks) {
  const std::string jobdir = JobDirOf8Blocks();
  const auto now = system_clock::now();
  {
    LedgerWriter w(jobdir, 0);
    w.Append(LedgerRecord{BlockStatus::kDone, 0, Ms(now - std::chrono::hours(1)), 1000});
  }
  const std::string t = JobPrometheusText(jobdir, now);
  EXPECT_TRUE(Has(t, R"(volbatch_job_block_rate{volbatch_job="seg"} 0)")) << t;
  EXPECT_EQ(t.find("volbatch_job_eta_seconds"), std::string::npos) << t;
  fs::remove_all(fs::path(jobdir).parent_path());
}

}  // namespace
}  // namespace volbatch
