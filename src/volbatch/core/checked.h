// Checked integer arithmetic: every size read from a file goes through these before it
// becomes an allocation, so a lying header fails with an Error instead of a huge malloc.
#pragma once

#include <cstdint>
#include <string_view>

#include "volbatch/core/error.h"

namespace volbatch {

inline int64_t CheckedMul(int64_t a, int64_t b, std::string_view what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw InvalidArgument(std::string(what) + ": size overflows 64 bits");
  }
  return r;
}

inline int64_t CheckedAdd(int64_t a, int64_t b, std::string_view what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    throw InvalidArgument(std::string(what) + ": size overflows 64 bits");
  }
  return r;
}

inline uint64_t CheckedAddU(uint64_t a, uint64_t b, std::string_view what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    throw DataLoss(std::string(what) + ": offset overflows 64 bits");
  }
  return r;
}

// Largest buffer a single chunk may occupy once decoded (limits what a header can ask for).
inline constexpr int64_t kMaxChunkBytes = int64_t{1} << 34;  // 16 GiB

}  // namespace volbatch
