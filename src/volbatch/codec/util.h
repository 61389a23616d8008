// Helpers shared by the codec implementations (not part of the codec interface): reading a
// codec's JSON configuration with errors that name the field, little-endian integers, and an
// output buffer that grows on demand but never past the caller's `max_decoded` bound.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"
#include "volbatch/core/error.h"

namespace volbatch::codec_internal {

// Reads fields of one codec's "configuration" object. Errors name "<codec>.<field>".
// Call Finish() after the last field: any field not read is an unknown field (InvalidArgument).
class ConfigReader {
 public:
  ConfigReader(std::string codec, const nlohmann::json& config) : codec_(std::move(codec)) {
    if (config.is_null()) {
      config_ = nlohmann::json::object();
    } else if (!config.is_object()) {
      throw InvalidArgument(codec_ + ".configuration must be an object, got " + config.dump());
    } else {
      config_ = config;
    }
  }

  bool Has(const std::string& field) const { return config_.contains(field); }

  // An integer field in [lo, hi]; `def` when absent.
  int64_t Int(const std::string& field, int64_t def, int64_t lo, int64_t hi) {
    seen_.insert(field);
    if (!config_.contains(field)) return def;
    const auto& v = config_[field];
    if (!v.is_number_integer()) {
      throw InvalidArgument(Name(field) + " must be an integer, got " + v.dump());
    }
    int64_t x;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) throw OutOfRange(field, v.dump(), lo, hi);
      x = static_cast<int64_t>(u);
    } else {
      x = v.get<int64_t>();
    }
    if (x < lo || x > hi) throw OutOfRange(field, v.dump(), lo, hi);
    return x;
  }

  bool Bool(const std::string& field, bool def) {
    seen_.insert(field);
    if (!config_.contains(field)) return def;
    const auto& v = config_[field];
    if (!v.is_boolean())
      throw InvalidArgument(Name(field) + " must be true or false, got " + v.dump());
    return v.get<bool>();
  }

  // A string field that must be one of `allowed`.
  std::string Enum(const std::string& field, const std::string& def,
                   std::initializer_list<const char*> allowed) {
    seen_.insert(field);
    if (!config_.contains(field)) return def;
    const auto& v = config_[field];
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + "\"" + a + "\"";
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      for (const char* a : allowed) {
        if (s == a) return s;
      }
    }
    throw InvalidArgument(Name(field) + " must be one of " + list + ", got " + v.dump());
  }

  // The raw JSON value of a field (null when absent); the caller validates it.
  const nlohmann::json& Raw(const std::string& field) {
    seen_.insert(field);
    static const nlohmann::json kNull;
    return config_.contains(field) ? config_[field] : kNull;
  }

  void Finish() const {
    for (const auto& [key, value] : config_.items()) {
      if (!seen_.count(key)) {
        std::string known;
        for (const auto& s : seen_) known += (known.empty() ? "" : ", ") + s;
        throw InvalidArgument(codec_ + ".configuration has unknown field \"" + key + "\"" +
                              (known.empty() ? " (it takes none)" : " (known: " + known + ")"));
      }
    }
  }

  std::string Name(const std::string& field) const { return codec_ + "." + field; }

 private:
  Error OutOfRange(const std::string& field, const std::string& got, int64_t lo, int64_t hi) const {
    return InvalidArgument(Name(field) + " must be " + std::to_string(lo) + ".." +
                           std::to_string(hi) + ", got " + got);
  }

  std::string codec_;
  nlohmann::json config_;
  std::set<std::string> seen_;
};

inline uint32_t LoadLE32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<uint32_t>(p[i]);
  return v;
}

inline void StoreLE32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
}

// A decode buffer that starts small and doubles, bounded by `limit` bytes of output. Streaming
// decoders write into Free() and call Commit(); when Free() is empty and the decoder still has
// output, Grow() either enlarges the buffer or throws DataLoss because the stream decodes to
// more than `limit` bytes. Memory is therefore bounded by what the stream really produces,
// never by what a header claims.
class BoundedOutput {
 public:
  // `what` names the codec for messages; `hint` is a first guess of the decoded size.
  BoundedOutput(std::string what, size_t limit, size_t hint)
      : what_(std::move(what)), limit_(limit) {
    // One byte past the limit lets a decoder reveal that there is more output than allowed.
    buf_.resize(std::min(std::max<size_t>(hint, 1), Cap()));
  }

  std::byte* Free() { return buf_.data() + size_; }
  size_t FreeSize() const { return buf_.size() - size_; }
  size_t size() const { return size_; }
  void Commit(size_t n) {
    size_ += n;
    if (size_ > limit_) TooLarge();
  }
  void Grow() {
    if (buf_.size() >= Cap()) TooLarge();
    size_t next = buf_.size() > Cap() / 2 ? Cap() : buf_.size() * 2;
    buf_.resize(std::max(next, buf_.size() + 1));
  }
  Bytes Take() {
    if (size_ > limit_) TooLarge();
    buf_.resize(size_);
    if (buf_.capacity() > 2 * size_ + 4096) buf_.shrink_to_fit();
    return std::move(buf_);
  }

 private:
  size_t Cap() const { return limit_ == SIZE_MAX ? limit_ : limit_ + 1; }
  [[noreturn]] void TooLarge() const {
    throw DataLoss(what_ + ": stream decodes to more than " + std::to_string(limit_) +
                   " bytes (the most this chunk may hold)");
  }

  std::string what_;
  size_t limit_;
  Bytes buf_;
  size_t size_ = 0;
};

// XXH32 of `n` bytes (defined in n5_lz4.cc) and the table-driven CRC-32C whatever the CPU
// (defined in crc32c.cc); declared here for the tests.
uint32_t Xxh32(const std::byte* data, size_t n, uint32_t seed);
uint32_t Crc32cPortable(std::span<const std::byte> data, uint32_t crc = 0);

// First guess of a decoded size for decoders that must grow their output: a small multiple of
// the input, bounded by the limit.
inline size_t InitialDecodeGuess(size_t encoded, size_t limit) {
  size_t guess = encoded > SIZE_MAX / 4 ? SIZE_MAX : encoded * 4;
  guess = std::max<size_t>(guess, 64 * 1024);
  return std::min(guess, limit);
}

}  // namespace volbatch::codec_internal
