// The S3 store against a real S3 server: s3rver (npm, tests/interop/node_modules), started
// once per test process on a free port, on first use.
#include "volbatch/remote/s3_store.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/conformance.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/remote/http_client.h"
#include "volbatch/remote/test_server.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using volbatch::testing::FreePort;
using volbatch::testing::ReadAll;
using volbatch::testing::ServerProcess;

constexpr const char* kBucket = "volbatch-test";

class S3rver {
 public:
  S3rver() {
    dir_ = fs::temp_directory_path() / ("volbatch_s3rver_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    port_ = FreePort();
    const std::string script =
        std::string(VOLBATCH_SOURCE_DIR) + "/tests/interop/node_modules/s3rver/bin/s3rver.js";
    // Not --silent: the log shows each request's query (uploads, partNumber, continuation-token)
    // so tests can check which requests were made.
    // --openssl-legacy-provider: s3rver encrypts continuation tokens with DES, which Node 20's
    // OpenSSL 3 leaves out by default (every truncated listing would be a 500 InternalError).
    ok_ = fs::exists(script) &&
          process_.Start({"node", "--openssl-legacy-provider", script, "--address", "127.0.0.1",
                          "--port", std::to_string(port_), "--directory", (dir_ / "data").string()},
                         dir_ / "s3rver.log", port_);
    if (!fs::exists(script)) ADD_FAILURE() << script << " is missing: run npm ci in tests/interop";
    if (ok_) {
      HttpClient http;
      const AwsSigning signing = Signing();
      HttpRequest req;
      req.method = "PUT";
      req.url = endpoint() + "/" + kBucket;
      req.headers = {"x-amz-content-sha256: UNSIGNED-PAYLOAD"};
      req.signing = &signing;
      const auto r = http.Send(req);
      ok_ = r.status == 200;
      if (!ok_) ADD_FAILURE() << "creating the bucket: HTTP " << r.status;
    }
  }
  ~S3rver() {
    process_.Stop();
    fs::remove_all(dir_);
  }
  static AwsSigning Signing() { return {"aws:amz:us-east-1:s3", "S3RVER", "S3RVER"}; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  S3Config config() const {
    S3Config c;
    c.access_key_id = "S3RVER";
    c.secret_access_key = "S3RVER";
    c.region = "us-east-1";
    c.endpoint = endpoint();
    c.sign = true;
    c.credentials_from = "the test";
    return c;
  }
  std::string log() const { return ReadAll(dir_ / "s3rver.log"); }
  bool ok() const { return ok_; }

 private:
  fs::path dir_;
  int port_ = 0;
  bool ok_ = false;
  ServerProcess process_;
};

std::unique_ptr<S3rver>& Server() {
  static std::unique_ptr<S3rver> server;
  return server;
}

S3rver& TheS3rver() {
  static std::once_flag once;
  std::call_once(once, [] { Server() = std::make_unique<S3rver>(); });
  return *Server();
}

// Stops the server at the end of the test program.
class StopS3rver : public ::testing::Environment {
 public:
  void TearDown() override { Server().reset(); }
};
const auto* const kStop = ::testing::AddGlobalTestEnvironment(new StopS3rver);

std::string FreshUrl() {
  static std::atomic<int> n{0};
  return std::string("s3://") + kBucket + "/t" + std::to_string(::getpid()) + "-" +
         std::to_string(n++);
}

std::shared_ptr<KvStore> FreshStore(const S3StoreOptions& options = {}) {
  S3rver& s = TheS3rver();
  if (!s.ok()) throw FailedPrecondition("s3rver did not start");
  return OpenS3Store(FreshUrl(), s.config(), options);
}

INSTANTIATE_TEST_SUITE_P(S3, KvStoreConformance,
                         ::testing::Values(KvStoreBackend{
                             .name = "s3rver",
                             .make = [] { return FreshStore(); },
                             .cleanup = nullptr,
                             // s3rver 3.7.1 (stores/filesystem.js, putObject) truncates and
                             // rewrites the object's file in place.
                             .non_atomic_overwrite = "s3rver writes an object's file in place",
                         }),
                         KvStoreBackendName);

Bytes Random(size_t n, unsigned seed) {
  Bytes b(n);
  std::mt19937 rng(seed);
  for (auto& x : b) x = std::byte(rng() & 255);
  return b;
}

Bytes B(std::string_view s) {
  Bytes b(s.size());
  for (size_t i = 0; i < s.size(); ++i) b[i] = std::byte(s[i]);
  return b;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = 0; (at = haystack.find(needle, at)) != std::string::npos; at += needle.size()) {
    ++n;
  }
  return n;
}

// s3rver writes its log asynchronously: the line of the last request may come a moment after
// the answer. Polls until `needle` occurs `expected` times more than `before`, or 10 s pass.
size_t LoggedSince(const std::string& needle, size_t before, size_t expected) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t n = Count(TheS3rver().log(), needle) - before;
  while (n < expected && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    n = Count(TheS3rver().log(), needle) - before;
  }
  return n;
}

template <typename F>
std::string ErrorOf(ErrorCode code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

// s3rver overwrites whatever If-None-Match or If-Match say: the probe finds that out, says no
// conditional writes (so datasets there keep one partial writer, partial_writer.h), and leaves
// no probe object behind. Versioned reads and conditional writes work where they are honoured
// (AWS S3); here only their plumbing: a version is the ETag, a matching If-Match succeeds.
TEST(S3Store, ConditionalWritesAreProbedAndS3rverHasNone) {
  const auto store = FreshStore();
  store->Set("unit", B("v1"));
  EXPECT_FALSE(store->ConditionalWrites());
  EXPECT_EQ(store->List(""), std::vector<std::string>{"unit"});
  const auto got = store->GetVersioned("unit");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value, B("v1"));
  EXPECT_FALSE(got->version.empty());
  EXPECT_TRUE(store->SetIfVersion("unit", B("v2"), got->version));
  EXPECT_EQ(store->Get("unit"), B("v2"));
  EXPECT_FALSE(store->GetVersioned("absent"));
}

TEST(S3Store, MultipartUploadRoundTrip) {
  S3StoreOptions o;
  o.multipart_threshold = 1 << 20;
  o.part_size = 300 << 10;
  const auto store = FreshStore(o);
  const Bytes value = Random((1 << 20) + 12345, 1);  // 4 parts, the last one short
  const size_t before = Count(TheS3rver().log(), "partNumber=");
  store->Set("big/value", value);
  EXPECT_EQ(store->Get("big/value"), value);
  EXPECT_EQ(store->GetRange("big/value", {-100, -1}), Bytes(value.end() - 100, value.end()));
  EXPECT_EQ(LoggedSince("partNumber=", before, 4), 4u) << TheS3rver().log();
  const Bytes small = Random(1000, 2);  // below the threshold: one PUT
  store->Set("big/value", small);
  EXPECT_EQ(store->Get("big/value"), small);
  EXPECT_EQ(store->List(""), std::vector<std::string>{"big/value"});
}

TEST(S3Store, ListFollowsContinuationTokens) {
  S3StoreOptions o;
  o.list_max_keys = 2;
  const auto store = FreshStore(o);
  std::vector<std::string> keys;
  for (int i = 0; i < 7; ++i) keys.push_back("p/" + std::to_string(6 - i));
  for (const auto& k : keys) store->Set(k, B(k));
  store->Set("q", B("q"));
  const size_t before = Count(TheS3rver().log(), "continuation-token=");
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(store->List("p/"), keys);
  EXPECT_EQ(LoggedSince("continuation-token=", before, 3), 3u);  // pages 2, 3, 4
  EXPECT_EQ(store->List("").size(), 8u);
}

TEST(S3Store, MalformedUrlsAreRefused) {
  const S3Config c = TheS3rver().config();
  for (const std::string url : {"s3://", "s3:///prefix", "s3://ab/x", "s3://Bad_Bucket/x",
                                "s3://-bucket/x", "s3://bucket/a/../b", "s3://bucket//a"}) {
    const std::string e = ErrorOf(ErrorCode::kInvalidArgument, [&] { OpenS3Store(url, c); });
    EXPECT_NE(e.find(url), std::string::npos) << e;
  }
}

TEST(S3Store, MissingBucketNamesUrlAndCode) {
  TheS3rver();
  const auto store = OpenS3Store("s3://no-such-bucket-here/p", TheS3rver().config());
  const std::string url = TheS3rver().endpoint() + "/no-such-bucket-here/p/k";
  for (auto op : std::vector<std::function<void()>>{[&] { store->Get("k"); },
                                                    [&] {
                                                      store->GetRange("k", {0, 4});
                                                    },
                                                    [&] { store->Set("k", B("v")); },
                                                    [&] { store->Erase("k"); }}) {
    const std::string e = ErrorOf(ErrorCode::kNotFound, op);
    EXPECT_NE(e.find(url), std::string::npos) << e;
    EXPECT_NE(e.find("NoSuchBucket"), std::string::npos) << e;
    // First the object as the command named it, then the request's URL.
    EXPECT_EQ(e.rfind("s3://no-such-bucket-here/p/k: ", 0), 0u) << e;
  }
  const std::string e = ErrorOf(ErrorCode::kNotFound, [&] { store->List(""); });
  EXPECT_NE(e.find("NoSuchBucket"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("s3://no-such-bucket-here/p: ", 0), 0u) << e;
}

// s3rver checks the access key but does not verify V4 signatures (its V4 check is
// unimplemented), so a wrong secret is refused by AWS but not here: an unknown key is.
TEST(S3Store, UnknownAccessKeyIsRefusedWithoutShowingTheSecret) {
  S3Config c = TheS3rver().config();
  c.access_key_id = "NOTAKEY";
  c.secret_access_key = "VerySecret/Value+123";
  c.session_token = "SessionTokenValue456";
  const auto store = OpenS3Store(std::string("s3://") + kBucket + "/p", c);
  for (auto op : std::vector<std::function<void()>>{
           [&] { store->Get("k"); }, [&] { store->Set("k", B("v")); }, [&] { store->List(""); }}) {
    const std::string e = ErrorOf(ErrorCode::kFailedPrecondition, op);
    EXPECT_NE(e.find("InvalidAccessKeyId"), std::string::npos) << e;
    EXPECT_NE(e.find(TheS3rver().endpoint() + "/" + kBucket), std::string::npos) << e;
    EXPECT_NE(e.find("NOTAKEY"), std::string::npos) << e;
    EXPECT_EQ(e.find("VerySecret"), std::string::npos) << e;
    EXPECT_EQ(e.find("SessionTokenValue"), std::string::npos) << e;
  }
}

TEST(S3Store, RefusedEndpointNamesUrlAndSetting) {
  S3Config c = TheS3rver().config();
  c.secret_access_key = "VerySecret/Value+123";
  c.endpoint = "http://127.0.0.1:" + std::to_string(FreePort());
  S3StoreOptions o;
  o.http.retry = {.max_attempts = 3,
                  .initial_delay = std::chrono::milliseconds(10),
                  .max_delay = std::chrono::milliseconds(20)};
  const auto store = OpenS3Store(std::string("s3://") + kBucket + "/p", c, o);
  const std::string e = ErrorOf(ErrorCode::kIo, [&] { store->Get("k"); });
  EXPECT_EQ(e.rfind(std::string("s3://") + kBucket + "/p/k: ", 0), 0u) << e;
  EXPECT_NE(e.find(c.endpoint + "/" + kBucket + "/p/k"), std::string::npos) << e;
  EXPECT_NE(e.find("3 attempts"), std::string::npos) << e;
  EXPECT_NE(e.find("AWS_ENDPOINT_URL"), std::string::npos) << e;
  EXPECT_EQ(e.find("VerySecret"), std::string::npos) << e;
}

// A server that accepts connections and then says nothing: the low-speed limit ends each
// attempt, the retry budget ends the call.
TEST(S3Store, StalledEndpointTimesOut) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);  // the kernel completes handshakes; nobody answers
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  S3Config c = TheS3rver().config();
  c.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  S3StoreOptions o;
  o.http.low_speed_time = std::chrono::seconds(1);
  o.http.retry = {.max_attempts = 2, .initial_delay = std::chrono::milliseconds(10)};
  const auto store = OpenS3Store(std::string("s3://") + kBucket + "/p", c, o);
  const auto start = std::chrono::steady_clock::now();
  const std::string e = ErrorOf(ErrorCode::kIo, [&] { store->Get("k"); });
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_NE(e.find(c.endpoint + "/" + kBucket + "/p/k"), std::string::npos) << e;
  EXPECT_NE(e.find("2 attempts"), std::string::npos) << e;
  EXPECT_LT(secs, 10.0);
}

TEST(S3Store, OpenKvStoreLoadsThePluginAndReadsTheEnvironment) {
  TheS3rver();
  const char* vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3",
                        "AWS_REGION", "AWS_PROFILE"};
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const char* v : vars) {
    const char* old = std::getenv(v);
    saved.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
  }
  ::setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  ::setenv("AWS_ENDPOINT_URL_S3", TheS3rver().endpoint().c_str(), 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  ::unsetenv("AWS_PROFILE");
  const std::string url = FreshUrl();
  const auto store = OpenKvStore(url);
  store->Set("a/b", B("via the registry"));
  EXPECT_EQ(OpenKvStore(JoinLocation(url, "a"))->Get("b"), B("via the registry"));
  EXPECT_EQ(store->Describe("a/b"), url + "/a/b");
  // gs:// is the same store on Cloud Storage's S3-compatible API; an endpoint set wins over
  // storage.googleapis.com, and messages name the gs:// URL.
  const std::string gs = "gs://" + url.substr(std::string("s3://").size());
  EXPECT_EQ(OpenKvStore(JoinLocation(gs, "a"))->Get("b"), B("via the registry"));
  EXPECT_EQ(OpenKvStore(gs)->Describe("a/b"), gs + "/a/b");
  for (const auto& [name, value] : saved) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
}

}  // namespace
}  // namespace volbatch
