#include "volbatch/engine/metrics_settings.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(MetricsSettings, WorkerPorts) {
  MetricsSettings m;
  m.port = 9100;
  EXPECT_EQ(m.WorkerPort(0), 9100);
  EXPECT_EQ(m.WorkerPort(3), 9103);
  m.fixed_port = true;
  EXPECT_EQ(m.WorkerPort(3), 9100);
  m.port = 0;
  m.fixed_port = false;
  EXPECT_EQ(m.WorkerPort(7), 0);
  EXPECT_EQ(m.ListenAddress(), "127.0.0.1");
}

TEST(MetricsSettings, PortsPast65535NameTheSource) {
  MetricsSettings m;
  m.port = 65530;
  m.source = "--metrics-port";
  try {
    m.WorkerPort(10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--metrics-port: 65530 + worker index 10"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(CheckMetricsPort(70000, "[run] metrics_port"), Error);
  EXPECT_THROW(CheckMetricsPort(-1, "[run] metrics_port"), Error);
  EXPECT_EQ(CheckMetricsPort(0, "x"), 0);
}

}  // namespace
}  // namespace volbatch
