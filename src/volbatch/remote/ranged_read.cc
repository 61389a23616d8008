#include "volbatch/remote/ranged_read.h"

#include <charconv>
#include <cstdint>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// Beyond this no value exists (http_client.cc refuses larger bodies): such offsets go to HEAD
// instead of into a header a server may not parse.
constexpr uint64_t kMaxValue = uint64_t{16} << 30;

struct ContentRange {
  std::optional<uint64_t> first, last;  // absent for "bytes */total"
  uint64_t total = 0;
};

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// "bytes 0-99/1000" or "bytes */1000"; nullopt for anything else (including an unknown total).
std::optional<ContentRange> ParseContentRange(std::string_view s) {
  if (s.substr(0, 6) != "bytes ") return std::nullopt;
  s.remove_prefix(6);
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  ContentRange cr;
  const auto total = ParseU64(s.substr(slash + 1));
  if (!total) return std::nullopt;
  cr.total = *total;
  const std::string_view span = s.substr(0, slash);
  // An empty value has no byte to name; servers write "*" or, like s3rver, "0-0".
  if (span == "*" || cr.total == 0) return cr;
  const size_t dash = span.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  cr.first = ParseU64(span.substr(0, dash));
  cr.last = ParseU64(span.substr(dash + 1));
  if (!cr.first || !cr.last || *cr.last < *cr.first || *cr.last >= cr.total) return std::nullopt;
  return cr;
}

Bytes Slice(const Bytes& b, uint64_t begin, uint64_t end) {
  return Bytes(b.begin() + static_cast<ptrdiff_t>(begin), b.begin() + static_cast<ptrdiff_t>(end));
}

Error Outside(const std::string& where, uint64_t begin, uint64_t end, uint64_t size) {
  return DataLoss(where + ": byte range [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") lies outside the value of " + std::to_string(size) + " bytes");
}

Error SuffixTooLong(const std::string& where, uint64_t n, uint64_t size) {
  return DataLoss(where + ": cannot read the last " + std::to_string(n) + " bytes of a value of " +
                  std::to_string(size) + " bytes");
}

Error BadAnswer(const std::string& where, const HttpResponse& r, const std::string& asked) {
  return DataLoss(where + ": the server answered a request for bytes " + asked + " with " +
                  std::to_string(r.body.size()) + " bytes (Content-Range \"" + r.content_range +
                  "\")");
}

class Reader {
 public:
  Reader(const std::string& where, const RangeFetch& fetch) : where_(where), fetch_(fetch) {}

  std::optional<uint64_t> Size() {
    const auto r = fetch_(std::nullopt, true);
    if (!r) return std::nullopt;
    if (r->content_length < 0) throw DataLoss(where_ + ": the server sent no Content-Length");
    return static_cast<uint64_t>(r->content_length);
  }

  // Bytes [begin, end) (end nullopt: to the end of the value).
  std::optional<Bytes> Explicit(uint64_t begin, std::optional<uint64_t> end) {
    if (begin > kMaxValue || (end && *end == begin)) {
      const auto size = Size();
      if (!size) return std::nullopt;
      const uint64_t e = end.value_or(std::max(*size, begin));
      if (begin > *size || e > *size) throw Outside(where_, begin, e, *size);
      if (e == begin) return Bytes{};
      // A value this large cannot be fetched; the check above made this unreachable.
      throw Outside(where_, begin, e, *size);
    }
    const std::string asked =
        std::to_string(begin) + "-" + (end ? std::to_string(*end - 1) : std::string());
    // The whole value needs no Range header (and s3rver answers "0-" on an empty object with
    // a Content-Length of 1 and no body).
    const bool whole = begin == 0 && !end;
    auto r = fetch_(whole ? std::nullopt : std::optional<std::string>(asked), false);
    if (!r) return std::nullopt;
    if (r->status == 416) {
      auto cr = ParseContentRange(r->content_range);
      std::optional<uint64_t> size;
      if (cr) {
        size = cr->total;
      } else {
        size = Size();
        if (!size) return std::nullopt;  // erased meanwhile
      }
      // "B-" with B == size asks for nothing and is unsatisfiable, but lies inside.
      if (!end && begin == *size) return Bytes{};
      throw Outside(where_, begin, end.value_or(begin), *size);
    }
    if (r->status == 200) {  // Range ignored: the whole value
      const uint64_t size = r->body.size();
      const uint64_t e = end.value_or(std::max(size, begin));
      if (begin > size || e > size) throw Outside(where_, begin, e, size);
      return Slice(r->body, begin, e);
    }
    const auto cr = ParseContentRange(r->content_range);
    if (!cr) throw BadAnswer(where_, *r, asked);
    const uint64_t e = end.value_or(std::max(cr->total, begin));
    if (begin > cr->total || e > cr->total) throw Outside(where_, begin, e, cr->total);
    if (e == begin && r->body.empty()) return Bytes{};
    if (!cr->first) throw BadAnswer(where_, *r, asked);
    if (*cr->first != begin || *cr->last + 1 != e || r->body.size() != e - begin) {
      throw BadAnswer(where_, *r, asked);
    }
    return std::move(r->body);
  }

  std::optional<Bytes> Suffix(uint64_t n) {
    if (n > kMaxValue) {
      const auto size = Size();
      if (!size) return std::nullopt;
      throw SuffixTooLong(where_, n, *size);
    }
    const std::string asked = "-" + std::to_string(n);
    auto r = fetch_(asked, false);
    if (!r) return std::nullopt;
    if (r->status == 200) {
      if (n > r->body.size()) throw SuffixTooLong(where_, n, r->body.size());
      return Slice(r->body, r->body.size() - n, r->body.size());
    }
    const auto cr = ParseContentRange(r->content_range);
    if (r->status == 416) {
      // Only an empty value has no last byte; n >= 1 is more than it holds.
      std::optional<uint64_t> size;
      if (cr) {
        size = cr->total;
      } else {
        size = Size();
        if (!size) return std::nullopt;
      }
      throw SuffixTooLong(where_, n, *size);
    }
    if (!cr) throw BadAnswer(where_, *r, asked);
    if (n > cr->total) throw SuffixTooLong(where_, n, cr->total);
    if (!cr->first) throw BadAnswer(where_, *r, asked);
    const uint64_t begin = cr->total - n;
    if (*cr->first == begin && *cr->last + 1 == cr->total && r->body.size() == n) {
      return std::move(r->body);
    }
    // The server did not honour the suffix; the total it sent gives the explicit range.
    return Explicit(begin, cr->total);
  }

 private:
  const std::string& where_;
  const RangeFetch& fetch_;
};

}  // namespace

std::optional<Bytes> ReadRange(const std::string& where, ByteRange range, const RangeFetch& fetch) {
  Reader reader(where, fetch);
  if (range.offset < 0) {
    // -INT64_MIN overflows; such a suffix is larger than any value anyway.
    const uint64_t n =
        range.offset == INT64_MIN ? uint64_t{1} << 63 : static_cast<uint64_t>(-range.offset);
    return reader.Suffix(n);
  }
  if (range.length < -1) {
    throw InvalidArgument(where + ": byte range length " + std::to_string(range.length) +
                          " is negative");
  }
  const auto begin = static_cast<uint64_t>(range.offset);
  if (range.length == -1) return reader.Explicit(begin, std::nullopt);
  if (begin > kMaxValue) return reader.Explicit(begin, begin);  // HEAD, then outside
  return reader.Explicit(begin, CheckedAddU(begin, static_cast<uint64_t>(range.length), where));
}

}  // namespace volbatch
