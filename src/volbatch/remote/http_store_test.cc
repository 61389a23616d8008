// The HTTP store against a real nginx serving a directory, started by the test from a private
// configuration on a free port; its access log shows which ranges were asked for.
#include "volbatch/remote/http_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/remote/test_server.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using volbatch::testing::FreePort;
using volbatch::testing::ReadAll;
using volbatch::testing::ServerProcess;

class HttpStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("volbatch_nginx_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_ / "root/data/sub");
    fs::create_directories(*dir_ / "tmp");
    value_ = new std::string(100000, '\0');
    std::mt19937 rng(5);
    for (char& c : *value_) c = static_cast<char>(rng() & 255);
    std::ofstream(*dir_ / "root/data/chunk", std::ios::binary) << *value_;
    std::ofstream(*dir_ / "root/data/sub/.zarray", std::ios::binary) << "{\"zarr_format\": 2}";
    std::ofstream(*dir_ / "root/data/empty", std::ios::binary);
    port_ = FreePort();
    const fs::path& d = *dir_;
    std::ofstream(d / "nginx.conf")
        << "daemon off;\nworker_processes 1;\npid " << (d / "nginx.pid").string() << ";\n"
        << "error_log " << (d / "error.log").string() << ";\n"
        << "events { worker_connections 64; }\n"
        << "http {\n"
        << "  log_format ranges '$request_method $uri \"$http_range\" $status $body_bytes_sent';\n"
        << "  access_log " << (d / "access.log").string() << " ranges;\n"
        << "  client_body_temp_path " << (d / "tmp/body").string() << ";\n"
        << "  proxy_temp_path " << (d / "tmp/proxy").string() << ";\n"
        << "  fastcgi_temp_path " << (d / "tmp/fastcgi").string() << ";\n"
        << "  uwsgi_temp_path " << (d / "tmp/uwsgi").string() << ";\n"
        << "  scgi_temp_path " << (d / "tmp/scgi").string() << ";\n"
        << "  server {\n"
        << "    listen 127.0.0.1:" << port_ << ";\n"
        << "    root " << (d / "root").string() << ";\n"
        << "  }\n"
        << "}\n";
    nginx_ = new ServerProcess;
    // -e: the error log before the configuration is read (else /var/log/nginx/error.log).
    ok_ = nginx_->Start({"nginx", "-c", (d / "nginx.conf").string(), "-p", d.string(), "-e",
                         (d / "error.log").string()},
                        d / "nginx.out", port_);
  }
  static void TearDownTestSuite() {
    delete nginx_;  // stops it by its PID
    fs::remove_all(*dir_);
    delete dir_;
    delete value_;
  }
  void SetUp() override { ASSERT_TRUE(ok_) << "nginx did not start"; }

  static std::string Base() { return "http://127.0.0.1:" + std::to_string(port_) + "/data"; }
  static Bytes Value(size_t begin, size_t end) {
    Bytes b(end - begin);
    for (size_t i = begin; i < end; ++i) b[i - begin] = std::byte(value_->at(i));
    return b;
  }
  static std::string AccessLog() { return ReadAll(*dir_ / "access.log"); }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* value_ = nullptr;
  static inline int port_ = 0;
  static inline bool ok_ = false;
  static inline ServerProcess* nginx_ = nullptr;
};

template <typename F>
std::string ErrorOf(ErrorCode code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST_F(HttpStoreTest, GetAndRangesEqualTheFilesBytes) {
  const auto store = OpenHttpStore(Base());
  const size_t n = value_->size();
  EXPECT_EQ(store->Get("chunk"), Value(0, n));
  EXPECT_EQ(store->GetRange("chunk", {1000, 777}), Value(1000, 1777));
  EXPECT_EQ(store->GetRange("chunk", {-4096, -1}), Value(n - 4096, n));
  EXPECT_EQ(store->GetRange("chunk", {99000, -1}), Value(99000, n));
  EXPECT_EQ(store->GetRange("chunk", {static_cast<int64_t>(n), -1}), Bytes{});
  EXPECT_EQ(store->Get("sub/.zarray")->size(), 18u);
  EXPECT_EQ(store->Sub("sub")->Get(".zarray"), store->Get("sub/.zarray"));
  EXPECT_EQ(store->Get("empty"), Bytes{});
  const std::string log = AccessLog();
  EXPECT_NE(log.find("GET /data/chunk \"bytes=1000-1776\" 206 777"), std::string::npos) << log;
  EXPECT_NE(log.find("GET /data/chunk \"bytes=-4096\" 206 4096"), std::string::npos) << log;
  EXPECT_NE(log.find("GET /data/chunk \"bytes=99000-\" 206 1000"), std::string::npos) << log;
}

TEST_F(HttpStoreTest, RangesOutsideTheValueAreDataLoss) {
  const auto store = OpenHttpStore(Base());
  const std::string where = Base() + "/chunk";
  for (ByteRange r : {ByteRange{99990, 20}, ByteRange{100001, -1}, ByteRange{-100001, -1},
                      ByteRange{INT64_MAX, INT64_MAX}, ByteRange{INT64_MIN, -1}}) {
    const std::string e = ErrorOf(ErrorCode::kDataLoss, [&] { store->GetRange("chunk", r); });
    EXPECT_NE(e.find(where), std::string::npos) << e;
  }
}

TEST_F(HttpStoreTest, AbsentKeysAreNullopt) {
  const auto store = OpenHttpStore(Base());
  EXPECT_FALSE(store->Get("missing").has_value());
  EXPECT_FALSE(store->Get("no/such/key").has_value());
  EXPECT_FALSE(store->GetRange("missing", {0, 10}).has_value());
  EXPECT_FALSE(store->GetRange("missing", {-10, -1}).has_value());
}

TEST_F(HttpStoreTest, WritesAndListingAreRefused) {
  const auto store = OpenHttpStore(Base());
  const Bytes v(3, std::byte{1});
  std::string e = ErrorOf(ErrorCode::kUnsupported, [&] { store->Set("chunk", v); });
  EXPECT_NE(e.find(Base() + "/chunk: HTTP is read-only"), std::string::npos) << e;
  e = ErrorOf(ErrorCode::kUnsupported, [&] { store->Erase("chunk"); });
  EXPECT_NE(e.find("HTTP is read-only"), std::string::npos) << e;
  e = ErrorOf(ErrorCode::kUnsupported, [&] { store->List(""); });
  EXPECT_NE(e.find("HTTP is read-only and has no listing"), std::string::npos) << e;
  EXPECT_EQ(fs::file_size(*dir_ / "root/data/chunk"), value_->size());  // untouched
  EXPECT_THROW(store->Get("../secret"), Error);
}

TEST_F(HttpStoreTest, OpenKvStoreLoadsThePlugin) {
  const auto store = OpenKvStore(Base());
  EXPECT_EQ(store->GetRange("chunk", {5, 5}), Value(5, 10));
  EXPECT_EQ(store->Describe("chunk"), Base() + "/chunk");
  for (const std::string url : {"http://", "http:///path", "http://h/p?q=1", "http://h/p#f"}) {
    const std::string e = ErrorOf(ErrorCode::kInvalidArgument, [&] { OpenHttpStore(url); });
    EXPECT_NE(e.find(url), std::string::npos) << e;
  }
}

TEST_F(HttpStoreTest, ServerErrorsNameTheUrl) {
  HttpClientOptions o;
  o.retry = {.max_attempts = 2, .initial_delay = std::chrono::milliseconds(5)};
  // A directory: nginx redirects to "sub/", which has no index and is forbidden (403).
  std::string e =
      ErrorOf(ErrorCode::kFailedPrecondition, [&] { OpenHttpStore(Base(), o)->Get("sub"); });
  EXPECT_NE(e.find(Base() + "/sub: HTTP 403"), std::string::npos) << e;
  const std::string refused = "http://127.0.0.1:" + std::to_string(FreePort()) + "/data";
  e = ErrorOf(ErrorCode::kIo, [&] { OpenHttpStore(refused, o)->Get("chunk"); });
  EXPECT_NE(e.find("GET " + refused + "/chunk"), std::string::npos) << e;
  EXPECT_NE(e.find("2 attempts"), std::string::npos) << e;
}

}  // namespace
}  // namespace volbatch
