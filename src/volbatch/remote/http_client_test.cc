// The HTTP client against a real TCP server on loopback that misbehaves on purpose (a thread
// answering each connection with the next scripted reply, then closing it).
#include "volbatch/remote/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/k"; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    for (const std::string& reply : replies_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);  // every reply ends its connection
    }
  }

  std::vector<std::string> replies_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

HttpClientOptions Fast(int attempts) {
  HttpClientOptions o;
  o.retry = {.max_attempts = attempts,
             .initial_delay = std::chrono::milliseconds(5),
             .max_delay = std::chrono::milliseconds(10)};
  return o;
}

HttpRequest Get(const std::string& url, std::optional<std::string> range = std::nullopt) {
  HttpRequest r;
  r.url = url;
  r.range = std::move(range);
  return r;
}

std::string Body(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(HttpClient, ShortBodyIsRetriedNeverReturned) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
                         "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"e\"\r\n\r\n0123456789"});
  HttpClient http(Fast(3));
  const HttpResponse r = http.Send(Get(server.url()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r.body), "0123456789");
  EXPECT_EQ(r.etag, "\"e\"");
  EXPECT_EQ(r.attempts, 2);
}

TEST(HttpClient, ServerErrorsAndSlowDownAreRetried) {
  ScriptedServer server(
      {"HTTP/1.1 503 Slow Down\r\nContent-Length: 36\r\n\r\n<Error><Code>SlowDown</Code></Error>",
       "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
       "HTTP/1.1 429 Too Many\r\nContent-Length: 0\r\n\r\n",
       "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 2-3/10\r\nContent-Length: "
       "2\r\n\r\n23"});
  HttpClient http(Fast(5));
  const HttpResponse r = http.Send(Get(server.url(), "2-3"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.content_range, "bytes 2-3/10");
  EXPECT_EQ(Body(r.body), "23");
  EXPECT_EQ(r.attempts, 4);
}

TEST(HttpClient, BudgetEndsWithOneLineNamingUrlAndCause) {
  ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0",
                         "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01"});
  HttpClient http(Fast(2));
  try {
    http.Send(Get(server.url()));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(m.find("GET " + server.url()), std::string::npos) << m;
    EXPECT_NE(m.find("2 attempts"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, PersistentFailureStatusIsReturnedAfterTheBudget) {
  ScriptedServer server({"HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n",
                         "HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n"});
  HttpClient http(Fast(2));
  const HttpResponse r = http.Send(Get(server.url()));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.attempts, 2);
}

// Serves one kept-alive connection after another; each request (body read whole, by its
// Content-Length) gets the next scripted reply, and an empty reply closes the connection
// without answering - what a server does to an idle connection just as a client reuses it -
// and "STALL" says nothing until the client gives up and closes it.
class KeepAliveServer {
 public:
  explicit KeepAliveServer(std::vector<std::string> replies) : replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~KeepAliveServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/k"; }
  int connections() const { return connections_; }
  // The bodies of the requests received, in order.
  const std::vector<std::string>& bodies() const { return bodies_; }

 private:
  void Serve() {
    size_t next = 0;
    while (next < replies_.size()) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string in;
      char buf[4096];
      while (next < replies_.size()) {
        size_t head_end;
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        if (head_end == std::string::npos) break;
        size_t length = 0;
        const size_t cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
        while (in.size() < head_end + 4 + length) {
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          in.append(buf, static_cast<size_t>(n));
        }
        bodies_.push_back(in.substr(head_end + 4, length));
        in.erase(0, head_end + 4 + length);
        const std::string& reply = replies_[next++];
        if (reply.empty()) break;
        if (reply == "STALL") {
          while (::read(c, buf, sizeof buf) > 0) {
          }
          break;
        }
        (void)!::write(c, reply.data(), reply.size());
      }
      ::close(c);
    }
  }

  std::vector<std::string> replies_;
  std::vector<std::string> bodies_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// libcurl resends a request itself when a reused connection dies before any answer; an upload
// must then be rewound, which fails (CURLE_SEND_FAIL_REWIND, not retried) unless the client can
// seek its body: one dropped idle connection used to fail a whole `volbatch copy` to S3.
TEST(HttpClient, UploadOnADroppedKeptAliveConnectionIsSentAgain) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  KeepAliveServer server({ok, "", ok});
  HttpClient http(Fast(1));  // no retry of Send's own: libcurl's resend must work
  const std::string first = "first value", second(100000, 'v');
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url();
  put.body = std::as_bytes(std::span(first.data(), first.size()));
  EXPECT_EQ(http.Send(put).status, 200);
  put.body = std::as_bytes(std::span(second.data(), second.size()));
  EXPECT_EQ(http.Send(put).status, 200);
  EXPECT_EQ(server.connections(), 2);
  ASSERT_EQ(server.bodies().size(), 3u);
  EXPECT_EQ(server.bodies()[1], second);
  EXPECT_EQ(server.bodies()[2], second);
}

// libcurl's own low-speed check averages over ~5 s, so a PUT whose body went out and whose
// answer never comes used to be abandoned after 6-7 s whatever the 1 s limit said.
TEST(HttpClient, StalledUploadIsAbandonedAfterTheIdleLimit) {
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  KeepAliveServer server({"STALL", ok});
  HttpClientOptions options = Fast(2);
  options.low_speed_time = std::chrono::seconds(1);
  HttpClient http(options);
  const std::string value(1 << 20, 'v');
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url();
  put.body = std::as_bytes(std::span(value.data(), value.size()));
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse r = http.Send(put);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_LT(took, 4.0);  // the limit, libcurl's 1 s progress tick, and slack
  ASSERT_EQ(server.bodies().size(), 2u);
  EXPECT_EQ(server.bodies()[1], value);
}

TEST(HttpClient, StalledUploadNamesTheIdleLimit) {
  KeepAliveServer server({"STALL"});
  HttpClientOptions options = Fast(1);
  options.low_speed_time = std::chrono::seconds(1);
  HttpClient http(options);
  const std::string value = "v";
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url();
  put.body = std::as_bytes(std::span(value.data(), value.size()));
  try {
    http.Send(put);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no byte moved for 1 s"), std::string::npos) << e.what();
  }
}

TEST(HttpClient, NotFoundIsNotRetried) {
  ScriptedServer server({"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"});
  HttpClient http(Fast(5));
  EXPECT_EQ(http.Send(Get(server.url())).status, 404);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace volbatch
