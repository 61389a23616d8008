// S3 over its REST API, signed by libcurl (SigV4, payload unsigned: x-amz-content-sha256:
// UNSIGNED-PAYLOAD, so a value is not hashed before it is sent; TLS protects it on the way).
//
// Layout: key K of s3://BUCKET/PREFIX is the object "PREFIX/K", its bytes verbatim; there are
// no directories, temporaries or metadata objects. Costs, in requests (each one round trip on
// a kept-alive connection):
//   Get        1 GET                    (404 NoSuchKey: absent)
//   GetRange   1 ranged GET (+1 HEAD or GET in the corner cases ranged_read.h lists)
//   Set        1 PUT; at or above multipart_threshold, 1 POST + one PUT per part + 1 POST
//              (an upload that fails is aborted with 1 DELETE so its parts are not billed)
//   Erase      1 DELETE                 (absent is fine: S3 answers 204 either way)
//   List       1 GET per 1000 keys      (ListObjectsV2, continuation tokens)
// A PUT replaces an object atomically (readers get the old or the new one, never a mix), so
// Set needs no temporary object and Sync nothing: every call is durable when S3 answers.
#include "volbatch/remote/s3_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/remote/ranged_read.h"
#include "volbatch/remote/uri.h"
#include "volbatch/remote/xml_scan.h"

namespace volbatch {
namespace {

std::string_view Text(const Bytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// One line: a server's message with control characters as spaces.
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s;
}

bool ValidBucketName(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  for (char c : b) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return b.find("..") == std::string_view::npos;
}

// What every store of one URL shares (Sub stores included): settings, credentials, the client.
struct S3Shared {
  S3Config config;
  S3StoreOptions options;
  std::string bucket;
  std::string scheme;  // "s3", or "gs" (Cloud Storage's S3-compatible XML API): for messages
  AwsSigning signing;
  std::vector<std::string> headers;  // x-amz-content-sha256, x-amz-security-token
  std::unique_ptr<HttpClient> http;
  // Whether the server honours If-Match and If-None-Match on PUT, found out once (Probe).
  mutable std::once_flag conditional_once;
  mutable bool conditional = false;
};

class S3Store : public KvStore {
 public:
  S3Store(std::shared_ptr<const S3Shared> shared, std::string prefix)
      : s_(std::move(shared)), prefix_(std::move(prefix)) {}

  // A body corrupted in flight (a shard index failing its crc32c) is fetched again.
  int ReadAttempts() const override { return 3; }
  int Concurrency() const override { return s_->options.http.max_in_flight; }

  std::optional<Bytes> Get(std::string_view key) const override {
    ValidateKey(key);
    return Named(key, [&]() -> std::optional<Bytes> {
      const std::string url = ObjectUrl(key);
      HttpResponse r = SendRequest(Request("GET", url));
      if (r.status == 200) return std::move(r.body);
      if (r.status == 404 && !IsBucketMissing(r)) return std::nullopt;
      throw Failure(r, url);
    });
  }

  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    ValidateKey(key);
    const std::string url = ObjectUrl(key);
    return Named(key, [&] {
      return ReadRange(
          Describe(key), range,
          [&](const std::optional<std::string>& bytes, bool head) -> std::optional<HttpResponse> {
            HttpRequest req = Request(head ? "HEAD" : "GET", url);
            req.range = bytes;
            HttpResponse r = SendRequest(req);
            if (r.status == 200 || r.status == 206 || r.status == 416) return r;
            if (r.status == 404 && !IsBucketMissing(r)) return std::nullopt;
            throw Failure(r, url);
          });
    });
  }

  void Set(std::string_view key, ByteView value) override {
    ValidateKey(key);
    Named(key, [&] {
      if (static_cast<int64_t>(value.size()) >= s_->options.multipart_threshold &&
          s_->options.part_size > 0) {
        SetMultipart(key, value);
        return;
      }
      HttpRequest req = Request("PUT", ObjectUrl(key));
      req.body = value;
      const HttpResponse r = SendRequest(req);
      if (r.status != 200) throw Failure(r, req.url);
    });
  }

  void Erase(std::string_view key) override {
    ValidateKey(key);
    Named(key, [&] {
      const std::string url = ObjectUrl(key);
      const HttpResponse r = SendRequest(Request("DELETE", url));
      if (r.status == 200 || r.status == 204) return;
      if (r.status == 404 && !IsBucketMissing(r)) return;
      throw Failure(r, url);
    });
  }

  std::vector<std::string> List(std::string_view prefix) const override {
    std::vector<std::string> keys;
    for (KeySize& k : ListSizes(prefix)) keys.push_back(std::move(k.key));
    return keys;
  }

  std::vector<KeySize> ListSizes(std::string_view prefix) const override {
    if (!prefix.empty()) {
      std::string_view p = prefix;
      if (p.back() == '/') p.remove_suffix(1);
      ValidateKey(p);
    }
    return Named(prefix, [&] { return ListAll(prefix); });
  }

  bool ConditionalWrites() const override {
    std::call_once(s_->conditional_once, [&] { s_->conditional = ProbeConditionalWrites(); });
    return s_->conditional;
  }

  std::optional<Versioned> GetVersioned(std::string_view key) const override {
    ValidateKey(key);
    return Named(key, [&]() -> std::optional<Versioned> {
      const std::string url = ObjectUrl(key);
      HttpResponse r = SendRequest(Request("GET", url));
      if (r.status == 200) {
        if (r.etag.empty()) throw DataLoss(url + ": the server sent no ETag");
        return Versioned{std::move(r.body), r.etag};
      }
      if (r.status == 404 && !IsBucketMissing(r)) return std::nullopt;
      throw Failure(r, url);
    });
  }

  bool SetIfVersion(std::string_view key, ByteView value,
                    const std::optional<std::string>& version) override {
    ValidateKey(key);
    return Named(key, [&] {
      HttpRequest req = Request("PUT", ObjectUrl(key));
      req.headers.push_back(version ? "If-Match: " + *version : "If-None-Match: *");
      req.body = value;
      const HttpResponse r = SendRequest(req);
      if (r.status == 200) return true;
      if (r.status == 412 || r.status == 409) return false;  // 409: ConditionalRequestConflict
      throw Failure(r, req.url);
    });
  }

  bool EraseIfVersion(std::string_view key, const std::string& version) override {
    ValidateKey(key);
    return Named(key, [&] {
      HttpRequest req = Request("DELETE", ObjectUrl(key));
      req.headers.push_back("If-Match: " + version);
      const HttpResponse r = SendRequest(req);
      if (r.status == 200 || r.status == 204) return true;
      if (r.status == 412 || r.status == 409) return false;
      if (r.status == 404 && !IsBucketMissing(r)) return false;  // gone: changed by another
      throw Failure(r, req.url);
    });
  }

  std::string Describe(std::string_view key) const override {
    std::string d = s_->scheme + "://" + s_->bucket;
    if (!prefix_.empty()) d += "/" + prefix_;
    if (!key.empty()) d += "/" + std::string(key);
    return d;
  }

  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    std::string_view p = prefix;
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    ValidateKey(p);
    return std::make_shared<S3Store>(
        s_, prefix_.empty() ? std::string(p) : prefix_ + "/" + std::string(p));
  }

 private:
  // Errors name the object as the user spelled it (s3://BUCKET/KEY) first: the request's URL
  // that follows is the endpoint's (https://BUCKET.s3.REGION.amazonaws.com/KEY on AWS), in
  // which the s3:// location a command was given does not appear.
  template <typename F>
  auto Named(std::string_view key, F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (const Error& e) {
      const std::string name = Describe(key);
      if (std::string_view(e.what()).starts_with(name + ": ")) throw;  // ReadRange's own
      throw WithContext(e, name);
    }
  }

  std::vector<KeySize> ListAll(std::string_view prefix) const {
    const std::string root = prefix_.empty() ? "" : prefix_ + "/";
    const std::string full = root + std::string(prefix);
    std::vector<KeySize> keys;
    std::string token;
    while (true) {
      // Query parameters in sorted order: libcurl 7.88 signs the query string as written, and
      // SigV4's canonical form sorts it.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + PercentEncode(token, false) + "&";
      query += "list-type=2";
      if (s_->options.list_max_keys > 0) {
        query += "&max-keys=" + std::to_string(s_->options.list_max_keys);
      }
      if (!full.empty()) query += "&prefix=" + PercentEncode(full, false);
      const std::string url = S3ObjectUrl(s_->config, s_->bucket, "") + "?" + query;
      const HttpResponse r = SendRequest(Request("GET", url));
      if (r.status != 200) throw Failure(r, url);
      const std::string_view xml = Text(r.body);
      // Each <Contents> has one <Key> and one <Size>, in that order.
      std::vector<std::string> names = XmlTexts(xml, "Key"), sizes = XmlTexts(xml, "Size");
      if (sizes.size() != names.size()) {
        throw DataLoss(url + ": a listing whose keys and sizes do not pair up");
      }
      for (size_t i = 0; i < names.size(); ++i) {
        std::string& k = names[i];
        if (!std::string_view(k).starts_with(root)) continue;
        std::string rel = k.substr(root.size());
        // Objects no key can name ("a//b", "dir/" folder markers) are not keys of this store.
        try {
          ValidateKey(rel);
        } catch (const Error&) {
          continue;
        }
        int64_t size = -1;
        try {
          size = std::stoll(sizes[i]);
        } catch (const std::exception&) {
          throw DataLoss(url + ": a listing with the size \"" + sizes[i] + "\" for " + k);
        }
        keys.push_back({std::move(rel), size});
      }
      const auto truncated = XmlText(xml, "IsTruncated");
      if (truncated != "true") break;
      const auto next = XmlText(xml, "NextContinuationToken");
      if (!next || next->empty() || *next == token) {
        throw DataLoss(url + ": truncated listing without a new NextContinuationToken");
      }
      token = *next;
    }
    std::sort(keys.begin(), keys.end(),
              [](const KeySize& a, const KeySize& b) { return a.key < b.key; });
    return keys;
  }

  std::string ObjectUrl(std::string_view key) const {
    const std::string object =
        prefix_.empty() ? std::string(key) : prefix_ + "/" + std::string(key);
    return S3ObjectUrl(s_->config, s_->bucket, PercentEncode(object, true));
  }

  HttpRequest Request(const std::string& method, const std::string& url) const {
    HttpRequest req;
    req.method = method;
    req.url = url;
    req.headers = s_->headers;
    if (s_->config.sign) req.signing = &s_->signing;
    return req;
  }

  // Transport failures (refused, stalled, reset past the retry budget) get the setting that
  // points at the server.
  HttpResponse SendRequest(const HttpRequest& req) const {
    try {
      return s_->http->Send(req);
    } catch (const Error& e) {
      const std::string hint =
          s_->config.endpoint.empty()
              ? " (AWS S3 in region " + s_->config.region + ": is the network reachable?)"
              : " (is the S3 endpoint " + s_->config.endpoint +
                    " right? It comes from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the "
                    "profile's endpoint_url)";
      throw Error(e.code(), std::string(e.what()) + hint);
    }
  }

  // Writes a probe object twice with If-None-Match: * and once with If-Match on an ETag it
  // cannot have: a server that honours both answers 412 to the last two (AWS S3 since 2024;
  // s3rver and older Ceph overwrite). The probe is removed again.
  bool ProbeConditionalWrites() const {
    std::random_device rd;
    const std::string key =
        ".volbatch-conditional-probe." + std::to_string(::getpid()) + "." + std::to_string(rd());
    const std::string url = ObjectUrl(key);
    const std::byte one[1] = {std::byte{'1'}};
    auto put = [&](const std::string& condition) {
      HttpRequest req = Request("PUT", url);
      req.headers.push_back(condition);
      req.body = ByteView(one, 1);
      const HttpResponse r = SendRequest(req);
      if (r.status != 200 && r.status != 412 && r.status != 409 && r.status != 501) {
        throw Failure(r, url);
      }
      return r.status;
    };
    bool honoured = false;
    try {
      if (put("If-None-Match: *") == 200) {
        honoured =
            put("If-None-Match: *") != 200 && put("If-Match: \"volbatch-no-such-version\"") != 200;
      }
    } catch (...) {
      SendRequest(Request("DELETE", url));
      throw;
    }
    SendRequest(Request("DELETE", url));
    return honoured;
  }

  static bool IsBucketMissing(const HttpResponse& r) {
    return XmlText(Text(r.body), "Code") == "NoSuchBucket";
  }

  // One line naming the URL, the S3 error code and what to set.
  Error Failure(const HttpResponse& r, const std::string& url) const {
    const std::string_view xml = Text(r.body);
    const std::string code = XmlText(xml, "Code").value_or("");
    std::string message = OneLine(XmlText(xml, "Message").value_or(""));
    // Servers do not echo secrets, but a message is no place to find out they did.
    for (const std::string* secret : {&s_->config.secret_access_key, &s_->config.session_token}) {
      if (secret->empty()) continue;
      for (size_t at; (at = message.find(*secret)) != std::string::npos;) {
        message.replace(at, secret->size(), "***");
      }
    }
    std::string text = url + ": HTTP " + std::to_string(r.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    if (r.attempts > 1) text += " (after " + std::to_string(r.attempts) + " attempts)";
    const std::string bucket = s_->scheme + "://" + s_->bucket;
    if (code == "NoSuchBucket") {
      return NotFound(text + " (bucket " + bucket + " does not exist at " + Where() + ")");
    }
    if (r.status == 401 || r.status == 403) {
      std::string hint;
      if (!s_->config.sign) {
        hint =
            "no S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE with ~/.aws/credentials";
      } else if (code == "SignatureDoesNotMatch") {
        hint = "the secret key does not match access key " + s_->config.access_key_id + " (from " +
               s_->config.credentials_from + ")";
      } else if (code == "InvalidAccessKeyId") {
        hint = "access key " + s_->config.access_key_id + " (from " + s_->config.credentials_from +
               ") is unknown to " + Where();
      } else {
        hint = "access key " + s_->config.access_key_id + " (from " + s_->config.credentials_from +
               ") may not access " + bucket;
      }
      return FailedPrecondition(text + " (" + hint + ")");
    }
    if (r.status == 301 || code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect") {
      return FailedPrecondition(text + " (the bucket is in another region than " +
                                s_->config.region + ": set AWS_REGION)");
    }
    return IoError(text);
  }

  std::string Where() const {
    return s_->config.endpoint.empty() ? "AWS S3 " + s_->config.region : s_->config.endpoint;
  }

  void SetMultipart(std::string_view key, ByteView value) {
    const std::string url = ObjectUrl(key);
    HttpRequest start = Request("POST", url + "?uploads=");
    HttpResponse r = SendRequest(start);
    const auto upload_id = r.status == 200 ? XmlText(Text(r.body), "UploadId") : std::nullopt;
    if (!upload_id) {
      if (r.status == 200) throw DataLoss(start.url + ": no UploadId in the answer");
      throw Failure(r, start.url);
    }
    const std::string id = PercentEncode(*upload_id, false);
    try {
      const uint64_t part = static_cast<uint64_t>(s_->options.part_size);
      const size_t parts = static_cast<size_t>((value.size() + part - 1) / part);
      std::vector<std::string> etags(parts);
      std::atomic<size_t> next{0};
      std::mutex mu;
      std::exception_ptr failure;
      auto worker = [&] {
        for (size_t i; (i = next++) < parts;) {
          {
            std::lock_guard lock(mu);
            if (failure) return;
          }
          try {
            HttpRequest put =
                Request("PUT", url + "?partNumber=" + std::to_string(i + 1) + "&uploadId=" + id);
            const size_t begin = i * part;
            put.body = value.subspan(begin, std::min<size_t>(part, value.size() - begin));
            const HttpResponse pr = SendRequest(put);
            if (pr.status != 200) throw Failure(pr, put.url);
            if (pr.etag.empty()) throw DataLoss(put.url + ": no ETag for the part");
            etags[i] = pr.etag;
          } catch (...) {
            std::lock_guard lock(mu);
            if (!failure) failure = std::current_exception();
            return;
          }
        }
      };
      const size_t threads =
          std::min<size_t>(parts, static_cast<size_t>(std::max(s_->options.part_concurrency, 1)));
      std::vector<std::thread> pool;
      for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
      worker();
      for (auto& t : pool) t.join();
      if (failure) std::rethrow_exception(failure);

      std::string xml = "<CompleteMultipartUpload>";
      for (size_t i = 0; i < parts; ++i) {
        xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
               "</ETag></Part>";
      }
      xml += "</CompleteMultipartUpload>";
      HttpRequest done = Request("POST", url + "?uploadId=" + id);
      done.body = std::as_bytes(std::span(xml.data(), xml.size()));
      const HttpResponse dr = SendRequest(done);
      // S3 may answer 200 and report the failure in the body.
      if (dr.status != 200 || XmlText(Text(dr.body), "Code")) throw Failure(dr, done.url);
    } catch (...) {
      try {
        SendRequest(Request("DELETE", url + "?uploadId=" + id));
      } catch (const Error&) {
        // The upload's own failure is what the caller needs; a lifecycle rule can reap parts.
      }
      throw;
    }
  }

  std::shared_ptr<const S3Shared> s_;
  std::string prefix_;  // no leading or trailing '/'; empty: the bucket's root
};

}  // namespace

std::shared_ptr<KvStore> OpenS3Store(const std::string& url, const S3Config& config,
                                     const S3StoreOptions& options) {
  const std::string scheme = UrlScheme(url);
  if (scheme != "s3" && scheme != "gs") throw InvalidArgument(url + ": not an s3:// URL");
  std::string_view rest = std::string_view(url).substr(scheme.size() + 3);
  const size_t slash = rest.find('/');
  const std::string bucket(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (bucket.empty()) {
    throw InvalidArgument(url + ": no bucket name (" + scheme + "://BUCKET/PREFIX)");
  }
  if (!ValidBucketName(bucket)) {
    throw InvalidArgument(url + ": \"" + OneLine(bucket) +
                          "\" is not a bucket name (3 to 63 characters: a-z, 0-9, '.' and '-', "
                          "starting and ending with a letter or digit)");
  }
  if (!prefix.empty()) {
    try {
      ValidateKey(prefix);
    } catch (const Error& e) {
      throw InvalidArgument(url + ": the prefix is not a valid key path: " + e.what());
    }
  }
  auto shared = std::make_shared<S3Shared>();
  shared->config = config;
  shared->options = options;
  shared->bucket = bucket;
  shared->scheme = scheme;
  shared->signing = {"aws:amz:" + config.region + ":s3", config.access_key_id,
                     config.secret_access_key};
  // s3rver (and S3 for a streamed body) wants the payload hash header; unsigned payload lets
  // a value go out without a SHA-256 pass over it first.
  shared->headers.push_back("x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (config.sign && !config.session_token.empty()) {
    shared->headers.push_back("x-amz-security-token: " + config.session_token);
  }
  shared->http = std::make_unique<HttpClient>(options.http);
  return std::make_shared<S3Store>(std::move(shared), std::string(prefix));
}

}  // namespace volbatch
