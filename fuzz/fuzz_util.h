// Shared pieces of the libFuzzer targets: the rejection rule (a volbatch::Error is how the
// library says "bad input" and ends the run quietly; any other exception escapes and libFuzzer
// reports it as a crash), a property check that aborts with a message, and a reader that takes
// the small selector fields a target decodes from the front of its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "volbatch/core/bytes.h"
#include "volbatch/core/error.h"

namespace volbatch::fuzz {

// Runs `body`; a volbatch::Error is an ordinary rejection of the input.
template <typename F>
void RejectOnError(F&& body) {
  try {
    body();
  } catch (const Error&) {
  }
}

// A violated property: prints it and aborts, which libFuzzer records as a crash.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

// Consumes the input from the front; past its end every field reads as zero.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() {
    const uint16_t lo = Byte();
    return static_cast<uint16_t>(lo | (Byte() << 8));
  }
  // The bytes not consumed yet.
  std::span<const std::byte> Rest() const {
    const size_t at = pos_ < size_ ? pos_ : size_;
    return {reinterpret_cast<const std::byte*>(data_) + at, size_ - at};
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

inline Bytes ToBytes(std::span<const std::byte> view) { return Bytes(view.begin(), view.end()); }

inline Bytes ToBytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}

}  // namespace volbatch::fuzz
