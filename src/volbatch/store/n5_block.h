// The N5 block header, which precedes the (compressed) big-endian elements of every block:
//
//   mode   uint16 BE   0 = default, 1 = varlength, (2 = object: not an array, refused)
//   ndim   uint16 BE
//   dims   ndim x uint32 BE, x first (fastest axis first)
//   count  uint32 BE, only in mode 1: number of elements that follow
//
// 4 + 4 ndim (+ 4) bytes, never compressed. Dims here are converted to C order at the boundary,
// so callers never see x-first shapes.
#pragma once

#include <cstdint>
#include <optional>

#include "volbatch/codec/codec.h"
#include "volbatch/core/box.h"

namespace volbatch {

struct N5BlockHeader {
  uint16_t mode = 0;
  Shape dims;                            // C order (slowest first), as declared by the block
  std::optional<uint32_t> num_elements;  // mode 1 only
  size_t size = 0;                       // header bytes; the payload starts here
};

// Parses the header of a block of an array of rank `rank`. Throws DataLoss for a truncated
// header, an unknown or object mode, or a rank that differs from the array's.
N5BlockHeader ParseN5BlockHeader(ByteView block, size_t rank);

// A mode 0 header for a block of `dims` (C order). Throws InvalidArgument if a dim does not
// fit in uint32 or the rank in uint16.
Bytes EncodeN5BlockHeader(const Shape& dims);

}  // namespace volbatch
