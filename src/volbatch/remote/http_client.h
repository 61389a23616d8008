// A thread-safe HTTP/1.1 client on libcurl, shared by the remote stores.
//
// Protocol and cost: one request is one libcurl easy transfer on a handle taken from a pool
// (handles keep their TLS session cache), over a connection cache and DNS cache shared by all
// handles (CURLSH), so consecutive requests to one host reuse a kept-alive connection instead
// of paying a TCP (and TLS) handshake each: ~1 round trip per small GET instead of 2-4. At
// most `max_in_flight` requests run at once; more callers wait for a slot. Bodies are held in
// memory whole (values are chunks and shards, not files of terabytes).
//
// Failures a retry can fix (connection refused or reset, timeouts, a body shorter or longer
// than its Content-Length, 5xx, 429, S3's SlowDown) are retried with capped, jittered
// exponential backoff within a budget (retry_policy.h). A stalled server cannot hang a call: a
// connect timeout and a low-speed limit end the attempt. Credentials are handed to libcurl and
// appear in no message this client makes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "volbatch/core/bytes.h"
#include "volbatch/remote/retry_policy.h"

namespace volbatch {

struct HttpClientOptions {
  int max_in_flight = 32;
  std::chrono::milliseconds connect_timeout{10000};
  // An attempt that receives or sends less than low_speed_bytes per second for low_speed_time
  // is abandoned (and retried): a server that accepts and then says nothing.
  int low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{30};
  RetryOptions retry;
};

// AWS Signature V4, computed by libcurl (CURLOPT_AWS_SIGV4).
struct AwsSigning {
  std::string provider;  // "aws:amz:us-east-1:s3"
  std::string access_key;
  std::string secret_key;
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; never printed
  std::span<const std::byte> body;   // PUT and POST; must outlive the call
  std::optional<std::string> range;  // "0-99", "100-", "-8": sent as "Range: bytes=..."
  const AwsSigning* signing = nullptr;
  bool follow_redirects = false;  // up to 5; never for signed requests (the signature is per URL)
};

struct HttpResponse {
  long status = 0;
  std::string etag;
  int64_t content_length = -1;  // -1: none sent
  std::string content_range;    // "bytes 0-99/1000", "bytes */1000", or empty
  Bytes body;
  int attempts = 1;
};

class HttpClient {
 public:
  explicit HttpClient(const HttpClientOptions& options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The server's final answer, whatever its status (after retries of a retryable one, with
  // `attempts` saying how many were made). Throws IoError naming the method, URL and the last
  // transport failure when no attempt got a complete answer within the retry budget.
  HttpResponse Send(const HttpRequest& request) const;

  const HttpClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True for statuses worth retrying: 5xx, 429, and an S3 "SlowDown" or "RequestTimeout" answer
// whatever its status.
bool RetryableStatus(long status, const Bytes& body);

}  // namespace volbatch
