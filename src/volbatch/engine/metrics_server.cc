#include "volbatch/engine/metrics_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// A client gets this long to send its request head and take the answer.
constexpr int kClientTimeoutMs = 2000;
constexpr size_t kMaxHead = 8192;

void WriteAll(int fd, const std::string& data) {
  size_t put = 0;
  while (put < data.size()) {
    const ssize_t n = ::send(fd, data.data() + put, data.size() - put, MSG_NOSIGNAL);
    if (n > 0) {
      put += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // the client went away or stalled past SO_SNDTIMEO
    }
  }
}

std::string Response(const std::string& status, const std::string& type, const std::string& body) {
  return "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

int Listen(const std::string& address, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = address + ":" + std::to_string(port);
  if (const int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(),
                                   std::to_string(port).c_str(), &hints, &found);
      rc != 0) {
    throw InvalidArgument(where + ": not an address to listen on (" + ::gai_strerror(rc) + ")");
  }
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    throw IoError(where + ": socket: " + ErrnoText(errno));
  }
  // A restarted worker takes its port back at once, though the last scrape's connection may
  // still be in TIME_WAIT.
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int bound = ::bind(fd, found->ai_addr, found->ai_addrlen);
  const int err = errno;
  ::freeaddrinfo(found);
  if (bound != 0 || ::listen(fd, 16) != 0) {
    const int e = bound != 0 ? err : errno;
    ::close(fd);
    throw IoError(where + ": cannot listen: " + ErrnoText(e));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  char serv[16];
  ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, nullptr, 0, serv, sizeof serv,
                NI_NUMERICSERV);
  *bound_port = std::atoi(serv);
  return fd;
}

}  // namespace

std::pair<std::string, std::string> ParseRequestLine(const std::string& head) {
  const std::string line = head.substr(0, head.find_first_of("\r\n"));
  const size_t a = line.find(' ');
  if (a == std::string::npos) return {};
  const size_t b = line.find(' ', a + 1);
  return {line.substr(0, a), line.substr(a + 1, b == std::string::npos ? b : b - a - 1)};
}

MetricsServer::MetricsServer(const std::string& address, int port, Render render)
    : address_(address), render_(std::move(render)) {
  if (port < 0 || port > 65535) {
    throw InvalidArgument(std::to_string(port) + ": not a port (0 to 65535)");
  }
  listen_fd_ = Listen(address, port, &port_);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(listen_fd_);
    throw IoError("metrics endpoint: pipe: " + ErrnoText(errno));
  }
  thread_ = std::thread([this] { Serve(); });
}

MetricsServer::~MetricsServer() {
  (void)!::write(wake_[1], "x", 1);
  thread_.join();
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) ::close(fd);
}

bool MetricsServer::WaitForScrape(std::chrono::milliseconds timeout) {
  const uint64_t after = started_.load();
  std::unique_lock lock(mu_);
  return answered_.wait_for(lock, timeout, [&] { return last_answered_ > after; });
}

void MetricsServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const timeval tv{kClientTimeoutMs / 1000, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    Answer(fd);
    ::close(fd);
  }
}

void MetricsServer::Answer(int fd) {
  // The whole head is read before answering: closing a socket with unread bytes sends a reset,
  // which can destroy the answer before the client reads it.
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos &&
         head.size() < kMaxHead) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  const auto [method, target] = ParseRequestLine(head);
  const std::string path = target.substr(0, target.find('?'));
  if (method.empty()) {
    WriteAll(fd, Response("400 Bad Request", "text/plain", "bad request\n"));
  } else if (path != "/metrics") {
    WriteAll(fd, Response("404 Not Found", "text/plain", "volbatch: metrics are at /metrics\n"));
  } else if (method != "GET") {
    WriteAll(fd, Response("405 Method Not Allowed", "text/plain", "GET /metrics only\n"));
  } else {
    const uint64_t number = ++started_;
    std::string body;
    try {
      body = render_();
    } catch (const std::exception& e) {
      WriteAll(fd,
               Response("500 Internal Server Error", "text/plain", e.what() + std::string("\n")));
      return;
    }
    // Counted before the answer leaves: a client that has read it sees the count.
    scrapes_.fetch_add(1, std::memory_order_relaxed);
    WriteAll(fd, Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body));
    ::shutdown(fd, SHUT_WR);
    {
      std::lock_guard lock(mu_);
      last_answered_ = number;
    }
    answered_.notify_all();
  }
}

}  // namespace volbatch
