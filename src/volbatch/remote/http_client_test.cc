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

TEST(HttpClient, NotFoundIsNotRetried) {
  ScriptedServer server({"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"});
  HttpClient http(Fast(5));
  EXPECT_EQ(http.Send(Get(server.url())).status, 404);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace volbatch
