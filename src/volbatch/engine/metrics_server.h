// A minimal HTTP/1.0 server for a Prometheus scrape: one thread that accepts a connection,
// reads the request, answers GET /metrics with what `render` returns and closes. No keep-alive,
// one client at a time (a scrape takes microseconds; a client that stalls is cut off after a
// timeout). While nobody connects the thread sleeps in poll(2): serving costs nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace volbatch {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on address:port (port 0: any free port; address a numeric IPv4/IPv6 address or a
  // host name). Throws InvalidArgument for an address that does not resolve and IoError
  // ("127.0.0.1:9100: Address already in use") when it cannot listen.
  MetricsServer(const std::string& address, int port, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port bound (the free one chosen for port 0) and the address as given.
  int port() const { return port_; }
  const std::string& address() const { return address_; }
  // GET /metrics answered so far (counted as the answer is sent).
  uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }
  // Waits until a scrape that started after this call has been answered (so it saw every
  // counter as it is now), at most `timeout`; returns whether one was.
  bool WaitForScrape(std::chrono::milliseconds timeout);

 private:
  void Serve();
  void Answer(int fd);

  std::string address_;
  int port_ = 0;
  Render render_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // the destructor writes to wake_[1] to stop Serve
  std::atomic<uint64_t> started_{0}, scrapes_{0};
  std::mutex mu_;
  std::condition_variable answered_;
  uint64_t last_answered_ = 0;  // the start number of the last scrape answered
  std::thread thread_;
};

// The request line's method and target ("GET", "/metrics") of an HTTP request head; empty
// strings if it has none. For tests.
std::pair<std::string, std::string> ParseRequestLine(const std::string& head);

}  // namespace volbatch
