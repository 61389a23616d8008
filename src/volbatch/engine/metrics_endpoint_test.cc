#include "volbatch/engine/metrics_endpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "volbatch/engine/metrics_test_util.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

std::string TempJobDir() {
  std::random_device rd;
  const fs::path d = fs::temp_directory_path() / ("vb-metrics-" + std::to_string(rd()) + ".zarr") /
                     "mito.volbatch";
  fs::create_directories(d);
  return d.string();
}

// GET /metrics from the endpoint's "127.0.0.1:PORT".
std::string Get(const std::string& target) {
  return FetchLoopback(std::stoi(target.substr(target.rfind(':') + 1)),
                       "GET /metrics HTTP/1.0\r\n\r\n");
}

TEST(MetricsEndpoint, ServesTheCountersAndRecordsItsAddressWhileItLives) {
  const std::string jobdir = TempJobDir();
  RunCounters c;
  MetricsSettings s;
  s.port = 0;
  {
    MetricsEndpoint e(s, jobdir, 3, c);
    ASSERT_TRUE(e.serving());
    EXPECT_EQ(e.target().rfind("127.0.0.1:", 0), 0u);
    c.blocks_done = 5;
    EXPECT_NE(
        Get(e.target()).find("volbatch_blocks_done_total{volbatch_job=\"mito\",worker=\"3\"} 5\n"),
        std::string::npos);
    const nlohmann::json t = ListMetricsTargets(jobdir);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0]["worker"], 3);
    EXPECT_EQ(t[0]["target"], e.target());
    EXPECT_EQ(t[0]["pid"], ::getpid());
  }
  EXPECT_TRUE(ListMetricsTargets(jobdir).empty());  // gone with the endpoint
  fs::remove_all(fs::path(jobdir).parent_path());
}

TEST(MetricsEndpoint, APortInUseLeavesNoEndpointAndThrowsNothing) {
  const std::string jobdir = TempJobDir();
  RunCounters c;
  MetricsSettings s;
  s.port = 0;
  MetricsEndpoint first(s, jobdir, 0, c);
  ASSERT_TRUE(first.serving());
  MetricsSettings same = s;
  same.port = std::stoi(first.target().substr(first.target().rfind(':') + 1));
  same.fixed_port = true;
  MetricsEndpoint second(same, jobdir, 1, c);  // logs one line on stderr
  EXPECT_FALSE(second.serving());
  EXPECT_EQ(ListMetricsTargets(jobdir).size(), 1u);
  fs::remove_all(fs::path(jobdir).parent_path());
}

TEST(MetricsEndpoint, JobNameIsTheJobDirectorysName) {
  EXPECT_EQ(MetricsJobName("/data/out.zarr/mito.volbatch"), "mito");
  EXPECT_EQ(MetricsJobName("/data/out.zarr/mito.volbatch/"), "mito");
  EXPECT_EQ(MetricsJobName("/data/jobs/run7"), "run7");
}

}  // namespace
}  // namespace volbatch
