// libcurl usage: handles are reset and fully configured for every attempt (curl_easy_reset
// keeps a handle's live connections and caches), so no option of one request leaks into the
// next. The CURLSH shares the DNS cache and TLS sessions. Connections are not shared through
// it: libcurl documents its shared connection cache as unsupported across concurrent threads
// (CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT); each pooled handle keeps its own kept-alive
// connections instead, which gives the same reuse once the pool is warm.
#include "volbatch/remote/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using Clock = std::chrono::steady_clock;

// The largest body this client accepts: far above any chunk or shard, far below what a
// lying Content-Length could make it allocate.
constexpr int64_t kMaxBodyBytes = int64_t{16} << 30;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return std::string(s);
}

// What one attempt collects.
struct Transfer {
  HttpResponse response;
  std::span<const std::byte> upload;
  size_t uploaded = 0;
  std::string body_error;  // set when the write callback refused the body
  // The idle check (OnProgress): when a byte last moved either way.
  CURL* handle = nullptr;
  std::chrono::seconds idle_limit{0};
  curl_off_t moved = -1;
  Clock::time_point last_moved;
  bool idle = false;  // the attempt was abandoned for moving nothing for idle_limit
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (StartsWithNoCase(line, "HTTP/")) {
    // A new response (after 100 Continue or a redirect): forget the previous one's headers.
    t.response.etag.clear();
    t.response.content_range.clear();
    t.response.content_length = -1;
  } else if (StartsWithNoCase(line, "etag:")) {
    t.response.etag = Trim(line.substr(5));
  } else if (StartsWithNoCase(line, "content-range:")) {
    t.response.content_range = Trim(line.substr(14));
  } else if (StartsWithNoCase(line, "content-length:")) {
    try {
      t.response.content_length = std::stoll(Trim(line.substr(15)));
    } catch (...) {
      t.response.content_length = -1;
    }
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  Bytes& body = t.response.body;
  const size_t len = size * n;
  if (static_cast<int64_t>(body.size() + len) > kMaxBodyBytes) {
    t.body_error = "body exceeds " + std::to_string(kMaxBodyBytes >> 30) + " GiB";
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  if (body.empty() && t.response.content_length > 0 && t.response.content_length <= kMaxBodyBytes) {
    body.reserve(static_cast<size_t>(t.response.content_length));
  }
  const size_t at = body.size();
  body.resize(at + len);
  std::memcpy(body.data() + at, data, len);
  return len;
}

size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t len = std::min(size * n, t.upload.size() - t.uploaded);
  std::memcpy(buffer, t.upload.data() + t.uploaded, len);
  t.uploaded += len;
  return len;
}

// libcurl rewinds an upload to send it again (a kept-alive connection that died before any
// answer is retried on a fresh one); without this it fails with CURLE_SEND_FAIL_REWIND.
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto& t = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t.upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t.uploaded = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// libcurl's low-speed check averages over its last ~5 s of progress samples, so an upload that
// then waits in silence for an answer is abandoned only once the upload leaves that window
// (a 1 s VOLBATCH_IO_TIMEOUT_S took 6-7 s on a stalled PUT). This counts the time since any
// byte moved, from when the request is about to be sent (connecting has its own timeout).
int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow) {
  (void)dltotal;
  (void)ultotal;
  auto& t = *static_cast<Transfer*>(user);
  const auto now = Clock::now();
  curl_off_t started = 0;
  curl_easy_getinfo(t.handle, CURLINFO_PRETRANSFER_TIME_T, &started);
  if (started == 0 || dlnow + ulnow != t.moved) {
    t.moved = dlnow + ulnow;
    t.last_moved = now;
    return 0;
  }
  if (t.idle_limit.count() > 0 && now - t.last_moved >= t.idle_limit) {
    t.idle = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

bool RetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:  // a resend libcurl could not make; this client can
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool BodyHasCode(const Bytes& body, std::string_view code) {
  const std::string needle = "<Code>" + std::string(code) + "</Code>";
  const std::string_view text(reinterpret_cast<const char*>(body.data()),
                              std::min<size_t>(body.size(), 4096));
  return text.find(needle) != std::string_view::npos;
}

}  // namespace

bool RetryableStatus(long status, const Bytes& body) {
  if (status >= 500 || status == 429) return true;
  if (status < 400) return false;  // a value may contain anything
  return BodyHasCode(body, "SlowDown") || BodyHasCode(body, "RequestTimeout");
}

struct HttpClient::Impl {
  HttpClientOptions options;
  CURLSH* share = nullptr;
  std::mutex share_locks[CURL_LOCK_DATA_LAST];

  std::mutex mu;  // guards the fields below
  std::condition_variable slot_free;
  int in_flight = 0;
  std::vector<CURL*> idle;  // handles with their kept-alive connections

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[data].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[data].unlock();
  }

  CURL* Acquire() {
    std::unique_lock lock(mu);
    slot_free.wait(lock, [&] { return in_flight < std::max(options.max_in_flight, 1); });
    ++in_flight;
    if (!idle.empty()) {
      CURL* h = idle.back();
      idle.pop_back();
      return h;
    }
    lock.unlock();
    CURL* h = curl_easy_init();
    if (!h) {
      Release(nullptr);
      throw IoError("HTTP client: cannot create a libcurl handle");
    }
    return h;
  }

  void Release(CURL* h) {
    {
      std::lock_guard lock(mu);
      --in_flight;
      if (h) idle.push_back(h);
    }
    slot_free.notify_one();
  }

  // One attempt; returns the libcurl code, fills `t` and `error` (libcurl's message).
  CURLcode Perform(CURL* h, const HttpRequest& r, Transfer& t, std::string& error) const {
    curl_easy_reset(h);
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.low_speed_bytes));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.low_speed_time.count()));
    t.handle = h;
    t.idle_limit = options.low_speed_time;
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    // Whole values or nothing: a transfer-encoding libcurl would have to decode is not asked for.
    curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    if (r.follow_redirects && !r.signing) {
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
      curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (r.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnSeek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(r.body.data()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else if (r.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    curl_slist* headers = nullptr;
    // "Expect: 100-continue" would cost every upload a round trip before its body.
    headers = curl_slist_append(headers, "Expect:");
    if (r.method == "POST") headers = curl_slist_append(headers, "Content-Type:");
    for (const auto& hdr : r.headers) headers = curl_slist_append(headers, hdr.c_str());
    std::string range;
    if (r.range) {
      range = "Range: bytes=" + *r.range;
      headers = curl_slist_append(headers, range.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (r.signing) {
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r.signing->provider.c_str());
      // Separate user name and password: a ':' in either cannot split them wrongly.
      curl_easy_setopt(h, CURLOPT_USERNAME, r.signing->access_key.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, r.signing->secret_key.c_str());
    }
    const CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (r.signing) {
      // Do not leave the secret in an idle handle's memory longer than needed.
      curl_easy_setopt(h, CURLOPT_PASSWORD, "");
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t.response.status);
    error = errbuf[0] ? errbuf : curl_easy_strerror(code);
    if (!t.body_error.empty()) error = t.body_error;
    if (code == CURLE_ABORTED_BY_CALLBACK && t.idle) {
      error = "Operation too slow: no byte moved for " +
              std::to_string(options.low_speed_time.count()) + " s";
    }
    return code;
  }
};

HttpClient::HttpClient(const HttpClientOptions& options) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->options = options;
  impl_->share = curl_share_init();
  if (impl_->share) {
    curl_share_setopt(impl_->share, CURLSHOPT_LOCKFUNC, &Impl::Lock);
    curl_share_setopt(impl_->share, CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
    curl_share_setopt(impl_->share, CURLSHOPT_USERDATA, impl_.get());
    curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(impl_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

HttpClient::~HttpClient() {
  for (CURL* h : impl_->idle) curl_easy_cleanup(h);
  if (impl_->share) curl_share_cleanup(impl_->share);
}

const HttpClientOptions& HttpClient::options() const { return impl_->options; }

HttpResponse HttpClient::Send(const HttpRequest& request) const {
  Impl& impl = *impl_;
  Backoff backoff(impl.options.retry);
  const auto start = Clock::now();
  std::string last_cause;
  while (true) {
    Transfer t;
    t.upload = request.body;
    std::string error;
    CURL* h = impl.Acquire();
    CURLcode code;
    try {
      code = impl.Perform(h, request, t, error);
    } catch (...) {
      impl.Release(h);
      throw;
    }
    impl.Release(h);
    bool retry = false;
    if (code != CURLE_OK) {
      last_cause = error;
      retry = RetryableCurlCode(code) || (code == CURLE_ABORTED_BY_CALLBACK && t.idle);
      if (!retry) {
        throw IoError(request.method + " " + request.url + ": " + last_cause);
      }
    } else if (request.method != "HEAD" && t.response.content_length >= 0 &&
               static_cast<int64_t>(t.response.body.size()) != t.response.content_length) {
      // A short body libcurl did not notice, or a longer one: never handed on as a value.
      last_cause = "body of " + std::to_string(t.response.body.size()) +
                   " bytes where Content-Length said " + std::to_string(t.response.content_length);
      retry = true;
    } else if (RetryableStatus(t.response.status, t.response.body)) {
      last_cause = "HTTP " + std::to_string(t.response.status);
      const auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      const auto wait = backoff.NextDelay(elapsed);
      if (!wait) {
        t.response.attempts = backoff.attempts();
        return std::move(t.response);  // the caller names the status and the server's code
      }
      std::this_thread::sleep_for(*wait);
      continue;
    } else {
      t.response.attempts = backoff.attempts();
      return std::move(t.response);
    }
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    const auto wait = backoff.NextDelay(elapsed);
    if (!wait) {
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      char took[32];
      std::snprintf(took, sizeof took, "%.1f", secs);
      throw IoError(request.method + " " + request.url + ": " + last_cause + " (gave up after " +
                    std::to_string(backoff.attempts()) + " attempts in " + took + " s)");
    }
    std::this_thread::sleep_for(*wait);
  }
}

}  // namespace volbatch
