#include "volbatch/engine/metrics_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/engine/metrics_test_util.h"

namespace volbatch {
namespace {

std::string Fetch(int port, const std::string& request) { return FetchLoopback(port, request); }

TEST(MetricsServer, AnswersGetMetrics) {
  std::atomic<int> calls{0};
  MetricsServer s("127.0.0.1", 0, [&] { return "x " + std::to_string(++calls) + "\n"; });
  ASSERT_GT(s.port(), 0);
  const std::string r = Fetch(s.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(r.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 4), "x 1\n");
  EXPECT_EQ(s.scrapes(), 1u);
  EXPECT_NE(Fetch(s.port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n").find("x 2\n"), std::string::npos);
}

TEST(MetricsServer, OtherPathsAndMethods) {
  MetricsServer s("127.0.0.1", 0, [] { return std::string("x 1\n"); });
  EXPECT_EQ(Fetch(s.port(), "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(Fetch(s.port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
  EXPECT_EQ(Fetch(s.port(), "nonsense\r\n\r\n").rfind("HTTP/1.0 400", 0), 0u);
  EXPECT_EQ(s.scrapes(), 0u);
}

TEST(MetricsServer, PortInUseNamesTheAddress) {
  MetricsServer a("127.0.0.1", 0, [] { return std::string(); });
  try {
    MetricsServer b("127.0.0.1", a.port(), [] { return std::string(); });
    FAIL() << "bound twice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(a.port())),
              std::string::npos);
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
}

TEST(MetricsServer, BadAddressAndPort) {
  EXPECT_THROW(MetricsServer("not an address..", 0, [] { return std::string(); }), Error);
  EXPECT_THROW(MetricsServer("127.0.0.1", 70000, [] { return std::string(); }), Error);
}

TEST(MetricsServer, WaitForScrapeSeesOnlyLaterScrapes) {
  MetricsServer s("127.0.0.1", 0, [] { return std::string("x 1\n"); });
  Fetch(s.port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(s.WaitForScrape(std::chrono::milliseconds(50)));
  std::thread client([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Fetch(s.port(), "GET /metrics HTTP/1.0\r\n\r\n");
  });
  EXPECT_TRUE(s.WaitForScrape(std::chrono::seconds(10)));
  client.join();
}

TEST(MetricsServer, ParseRequestLine) {
  EXPECT_EQ(ParseRequestLine("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            std::make_pair(std::string("GET"), std::string("/metrics")));
  EXPECT_EQ(ParseRequestLine("GET /metrics"),
            std::make_pair(std::string("GET"), std::string("/metrics")));
  EXPECT_EQ(ParseRequestLine("junk"), std::make_pair(std::string(), std::string()));
}

}  // namespace
}  // namespace volbatch
