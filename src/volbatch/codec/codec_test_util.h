// Helpers for the codec tests (header-only, included by *_test.cc files only).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch::testing {

inline Bytes ToBytes(std::string_view s) {
  Bytes b(s.size());
  for (size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

inline Bytes ToBytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

inline std::string ToString(ByteView b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline ChunkSpec Spec(DataType dtype, Shape shape) {
  ChunkSpec s;
  s.dtype = dtype;
  s.shape = std::move(shape);
  return s;
}

inline ChunkSpec ByteSpec(size_t n) { return Spec(DataType::kUint8, {static_cast<Index>(n)}); }

// Deterministic pseudo-random bytes (xorshift), `smooth` makes them compressible.
inline Bytes TestData(size_t n, uint64_t seed, bool smooth) {
  Bytes b(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = static_cast<std::byte>(smooth ? ((i / 7) % 13) * 3 + (x & 1) : (x >> 24));
  }
  return b;
}

// The code of the volbatch::Error `f` throws; fails the test if it throws nothing or anything
// else.
inline ErrorCode CodeOf(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-volbatch exception: " << e.what();
    return ErrorCode::kInternal;
  }
  ADD_FAILURE() << "did not throw";
  return ErrorCode::kInternal;
}

}  // namespace volbatch::testing
