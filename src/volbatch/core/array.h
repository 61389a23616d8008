// Array: a typed, dense, C-order N-D buffer (the unit every layer passes around).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "volbatch/core/box.h"
#include "volbatch/core/bytes.h"
#include "volbatch/core/dtype.h"

namespace volbatch {

class Array {
 public:
  Array() = default;
  // Copies use memcpy (bytes.h: a Bytes copy would go byte by byte); moves take the buffer.
  Array(const Array& other);
  Array& operator=(const Array& other);
  Array(Array&&) noexcept = default;
  Array& operator=(Array&&) noexcept = default;
  // Zero-filled. Throws InvalidArgument if the byte size overflows or exceeds `max_bytes`.
  Array(DataType dtype, Shape shape);
  // Every element set to `fill` (one element's bytes, native endianness; empty = zeros).
  static Array Filled(DataType dtype, Shape shape, std::span<const std::byte> fill);
  // Takes ownership of bytes (size must match).
  static Array FromBytes(DataType dtype, Shape shape, Bytes bytes);
  // Contents unspecified: for arrays the caller overwrites completely (reads, results).
  static Array Uninitialized(DataType dtype, Shape shape);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  Index num_elements() const { return num_elements_; }
  size_t num_bytes() const { return bytes_.size(); }
  size_t element_size() const { return ByteSize(dtype_); }

  std::byte* data() { return bytes_.data(); }
  const std::byte* data() const { return bytes_.data(); }
  std::span<std::byte> bytes() { return bytes_; }
  std::span<const std::byte> bytes() const { return bytes_; }
  Bytes release() { return std::move(bytes_); }
  template <typename T>
  T* data_as() {
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <typename T>
  const T* data_as() const {
    return reinterpret_cast<const T*>(bytes_.data());
  }

  // True when every element's bytes equal `fill` (empty `fill` means all zero bytes).
  bool AllEqual(std::span<const std::byte> fill) const;  // AllElementsEqual(bytes(), fill)
  // A C-order copy of `region` (must lie inside this array).
  Array Slice(const Box& region) const;

  friend bool operator==(const Array& a, const Array& b) {
    return a.dtype_ == b.dtype_ && a.shape_ == b.shape_ && a.bytes_ == b.bytes_;
  }

 private:
  DataType dtype_ = DataType::kUint8;
  Shape shape_;
  Index num_elements_ = 0;
  Bytes bytes_;
};

// True when every element (fill.size() bytes, or any size when `fill` is empty) in `data`
// equals `fill` (empty: all bytes zero). Stops at the first difference, and compares 64 bytes
// at a time, so a unit that is not all fill value costs a few bytes' look.
bool AllElementsEqual(std::span<const std::byte> data, std::span<const std::byte> fill);

// Copies the box `extent` starting at `src_origin` in src to `dst_origin` in dst (same dtype).
// Both are C-order dense buffers of the given shapes. Innermost runs are memcpy'd.
void CopyRegion(const std::byte* src, const Shape& src_shape, const Shape& src_origin,
                std::byte* dst, const Shape& dst_shape, const Shape& dst_origin,
                const Shape& extent, size_t element_size);
void CopyRegion(const Array& src, const Shape& src_origin, Array& dst, const Shape& dst_origin,
                const Shape& extent);

// Reverses the byte order of every element (element_size 1 is a no-op).
void SwapBytes(std::span<std::byte> data, size_t element_size);

// Permutes axes: result axis i is source axis perm[i] (C order in and out).
Array Transpose(const Array& a, const std::vector<size_t>& perm);

}  // namespace volbatch
