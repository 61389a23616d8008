// Protocol and cost: Get is one GET (404 and 410: absent), GetRange one ranged GET (see
// ranged_read.h), redirects followed (up to 5). HTTP has no listing and no writes here: Set,
// Erase and List throw Unsupported, so a dataset served over HTTP can be read, never changed.
#include "volbatch/remote/http_store.h"

#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/remote/ranged_read.h"
#include "volbatch/remote/uri.h"

namespace volbatch {
namespace {

class HttpStore : public KvStore {
 public:
  HttpStore(std::shared_ptr<const HttpClient> http, std::string base)
      : http_(std::move(http)), base_(std::move(base)) {}

  // A body corrupted in flight (a shard index failing its crc32c) is fetched again.
  int ReadAttempts() const override { return 3; }
  int Concurrency() const override { return http_->options().max_in_flight; }

  std::optional<Bytes> Get(std::string_view key) const override {
    ValidateKey(key);
    const std::string url = Url(key);
    HttpResponse r = Fetch(url, std::nullopt, false);
    if (r.status == 200) return std::move(r.body);
    if (Absent(r.status)) return std::nullopt;
    throw Failure(r, url);
  }

  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    ValidateKey(key);
    const std::string url = Url(key);
    return ReadRange(
        Describe(key), range,
        [&](const std::optional<std::string>& bytes, bool head) -> std::optional<HttpResponse> {
          HttpResponse r = Fetch(url, bytes, head);
          if (r.status == 200 || r.status == 206 || r.status == 416) return r;
          if (Absent(r.status)) return std::nullopt;
          throw Failure(r, url);
        });
  }

  void Set(std::string_view key, ByteView) override {
    ValidateKey(key);
    throw Unsupported(Describe(key) + ": HTTP is read-only");
  }

  void Erase(std::string_view key) override {
    ValidateKey(key);
    throw Unsupported(Describe(key) + ": HTTP is read-only");
  }

  std::vector<std::string> List(std::string_view prefix) const override {
    // Only a writer lists (to find a destination empty, or to erase what it replaces): say
    // what stops it, not just that a listing is missing.
    throw Unsupported(Describe(prefix) +
                      ": HTTP is read-only and has no listing (a dataset at an http(s):// URL "
                      "is read by its metadata keys; it cannot be listed, created or changed)");
  }

  std::string Describe(std::string_view key) const override {
    return key.empty() ? base_ : base_ + "/" + std::string(key);
  }

  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    std::string_view p = prefix;
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    ValidateKey(p);
    return std::make_shared<HttpStore>(http_, base_ + "/" + PercentEncode(p, true));
  }

 private:
  std::string Url(std::string_view key) const { return base_ + "/" + PercentEncode(key, true); }

  static bool Absent(long status) { return status == 404 || status == 410; }

  HttpResponse Fetch(const std::string& url, const std::optional<std::string>& range,
                     bool head) const {
    HttpRequest req;
    req.method = head ? "HEAD" : "GET";
    req.url = url;
    req.range = range;
    req.follow_redirects = true;
    return http_->Send(req);
  }

  static Error Failure(const HttpResponse& r, const std::string& url) {
    std::string text = url + ": HTTP " + std::to_string(r.status);
    if (r.attempts > 1) text += " (after " + std::to_string(r.attempts) + " attempts)";
    if (r.status == 401 || r.status == 403) {
      return FailedPrecondition(text +
                                " (the server refuses access; volbatch sends no "
                                "credentials over HTTP)");
    }
    return IoError(text);
  }

  std::shared_ptr<const HttpClient> http_;
  std::string base_;  // "https://host/path", no trailing '/'
};

}  // namespace

std::shared_ptr<KvStore> OpenHttpStore(const std::string& url, const HttpClientOptions& options) {
  const std::string scheme = UrlScheme(url);
  if (scheme != "http" && scheme != "https") {
    throw InvalidArgument(url + ": not an http:// or https:// URL");
  }
  std::string base = url;
  while (base.size() > scheme.size() + 3 && base.back() == '/') base.pop_back();
  const std::string_view rest = std::string_view(base).substr(scheme.size() + 3);
  if (rest.empty() || rest.front() == '/') throw InvalidArgument(url + ": no host name");
  if (base.find_first_of("?#") != std::string::npos) {
    throw InvalidArgument(url + ": a store URL cannot have a query or fragment");
  }
  for (char c : base) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      throw InvalidArgument("a store URL cannot contain spaces or control characters: " + url);
    }
  }
  return std::make_shared<HttpStore>(std::make_shared<const HttpClient>(options), base);
}

}  // namespace volbatch
