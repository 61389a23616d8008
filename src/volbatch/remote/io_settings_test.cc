#include "volbatch/remote/io_settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr const char* kVariables[] = {"AWS_MAX_ATTEMPTS", "VOLBATCH_IO_CONCURRENCY",
                                      "VOLBATCH_IO_TIMEOUT_S", "VOLBATCH_CONNECT_TIMEOUT_S",
                                      "VOLBATCH_IO_BUDGET_S"};

class IoSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVariables) ::unsetenv(v);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(IoSettings, DefaultsThenTheEnvironment) {
  const HttpClientOptions d = HttpOptionsFromEnvironment();
  EXPECT_EQ(d.max_in_flight, 32);
  ::setenv("AWS_MAX_ATTEMPTS", "3", 1);
  ::setenv("VOLBATCH_IO_CONCURRENCY", "64", 1);
  ::setenv("VOLBATCH_IO_TIMEOUT_S", "2", 1);
  ::setenv("VOLBATCH_CONNECT_TIMEOUT_S", "0.5", 1);
  ::setenv("VOLBATCH_IO_BUDGET_S", "7", 1);
  const HttpClientOptions o = HttpOptionsFromEnvironment();
  EXPECT_EQ(o.retry.max_attempts, 3);
  EXPECT_EQ(o.max_in_flight, 64);
  EXPECT_EQ(o.low_speed_time, std::chrono::seconds(2));
  EXPECT_EQ(o.connect_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(o.retry.total_budget, std::chrono::milliseconds(7000));
}

TEST_F(IoSettings, ABadValueNamesTheVariable) {
  for (const char* bad : {"many", "0", "2x", "100000"}) {
    ::setenv("VOLBATCH_IO_CONCURRENCY", bad, 1);
    try {
      HttpOptionsFromEnvironment();
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), std::string("VOLBATCH_IO_CONCURRENCY=") + bad +
                                           ": must be a number from 1 to 1024");
    }
  }
}

}  // namespace
}  // namespace volbatch
