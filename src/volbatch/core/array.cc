#include "volbatch/core/array.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/core/runs.h"

namespace volbatch {

namespace {

// Asks for 2 MiB pages under a large buffer that has not been touched yet. Volumes are copied
// to and from chunks in short rows (64 elements) spread over many 4 KiB pages, one TLB miss
// each, which on a VM made copying a chunk into a volume cost as much as decompressing it; and
// every first touch of a 4 KiB page is a page fault. numpy does the same for arrays >= 4 MiB.
// Only for buffers glibc maps on their own (>= 32 MiB), so no heap mapping is split.
void AdviseHugePages(std::byte* p, size_t n) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (n < (size_t{32} << 20)) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHuge - 1);
  // Only advice: where the kernel has no huge pages the buffer just keeps small ones.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace

Array Array::Uninitialized(DataType dtype, Shape shape) {
  Array a;
  a.dtype_ = dtype;
  a.shape_ = std::move(shape);
  a.num_elements_ = NumElements(a.shape_, "array shape");
  const int64_t n =
      CheckedMul(a.num_elements_, static_cast<int64_t>(ByteSize(dtype)), "array bytes");
  a.bytes_.reserve(static_cast<size_t>(n));  // allocates without touching
  AdviseHugePages(a.bytes_.data(), static_cast<size_t>(n));
  a.bytes_.resize(static_cast<size_t>(n));  // Bytes does not zero
  return a;
}

// (An empty array has no buffer, and memset of a null pointer is undefined even for 0 bytes.)
Array::Array(DataType dtype, Shape shape) : Array(Uninitialized(dtype, std::move(shape))) {
  if (!bytes_.empty()) std::memset(bytes_.data(), 0, bytes_.size());
}

Array Array::Filled(DataType dtype, Shape shape, std::span<const std::byte> fill) {
  Array a = Uninitialized(dtype, std::move(shape));
  const size_t es = a.element_size();
  if (!fill.empty() && fill.size() != es) throw Internal("Array::Filled: fill size mismatch");
  const bool same = std::all_of(fill.begin(), fill.end(),
                                [&](std::byte b) { return b == (fill.empty() ? b : fill[0]); });
  if (same) {  // zeros, or every byte of the element equal (0xff...): one memset
    if (!a.bytes_.empty()) {
      std::memset(a.bytes_.data(), fill.empty() ? 0 : static_cast<int>(fill[0]), a.bytes_.size());
    }
  } else {
    for (size_t off = 0; off < a.bytes_.size(); off += es)
      std::memcpy(&a.bytes_[off], fill.data(), es);
  }
  return a;
}

Array Array::FromBytes(DataType dtype, Shape shape, Bytes bytes) {
  Array a;
  a.dtype_ = dtype;
  a.shape_ = std::move(shape);
  a.num_elements_ = NumElements(a.shape_, "array shape");
  if (CheckedMul(a.num_elements_, static_cast<int64_t>(ByteSize(dtype)), "array bytes") !=
      static_cast<int64_t>(bytes.size())) {
    throw DataLoss("array of shape " + ShapeToString(a.shape_) + " needs " +
                   std::to_string(a.num_elements_ * ByteSize(dtype)) + " bytes, got " +
                   std::to_string(bytes.size()));
  }
  a.bytes_ = std::move(bytes);
  return a;
}

Array::Array(const Array& other)
    : dtype_(other.dtype_),
      shape_(other.shape_),
      num_elements_(other.num_elements_),
      bytes_(CopyBytes(other.bytes_)) {}

Array& Array::operator=(const Array& other) {
  if (this != &other) *this = Array(other);
  return *this;
}

bool Array::AllEqual(std::span<const std::byte> fill) const {
  return AllElementsEqual(bytes_, fill);
}

bool AllElementsEqual(std::span<const std::byte> data, std::span<const std::byte> fill) {
  // A block of 64 bytes of the pattern (zeros, or `fill` repeated), compared block by block;
  // elements whose size does not divide 64 go one at a time.
  constexpr size_t kBlock = 64;
  const size_t es = fill.empty() ? 1 : fill.size();
  if (kBlock % es != 0) {
    for (size_t off = 0; off + es <= data.size(); off += es) {
      if (std::memcmp(data.data() + off, fill.data(), es) != 0) return false;
    }
    return true;
  }
  std::byte pattern[kBlock] = {};
  if (!fill.empty()) {
    for (size_t off = 0; off < kBlock; off += es) std::memcpy(pattern + off, fill.data(), es);
  }
  const std::byte* p = data.data();
  const size_t n = data.size();
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    if (std::memcmp(p + i, pattern, kBlock) != 0) return false;
  }
  return n == i || std::memcmp(p + i, pattern, n - i) == 0;
}

Array Array::Slice(const Box& region) const {
  if (!Box::FromShape(shape_).Contains(region)) {
    throw Internal("Array::Slice: region " + region.ToString() + " outside " +
                   ShapeToString(shape_));
  }
  Array out = Uninitialized(dtype_, region.shape);
  CopyRegion(*this, region.begin, out, Shape(rank(), 0), region.shape);
  return out;
}

void CopyRegion(const std::byte* src, const Shape& src_shape, const Shape& src_origin,
                std::byte* dst, const Shape& dst_shape, const Shape& dst_origin,
                const Shape& extent, size_t es) {
  ForEachRun(src_shape, src_origin, dst_shape, dst_origin, extent, [&](Index s, Index d, Index n) {
    std::memcpy(dst + static_cast<size_t>(d) * es, src + static_cast<size_t>(s) * es,
                static_cast<size_t>(n) * es);
  });
}

void CopyRegion(const Array& src, const Shape& src_origin, Array& dst, const Shape& dst_origin,
                const Shape& extent) {
  if (src.dtype() != dst.dtype()) throw Internal("CopyRegion: dtype mismatch");
  CopyRegion(src.data(), src.shape(), src_origin, dst.data(), dst.shape(), dst_origin, extent,
             src.element_size());
}

void SwapBytes(std::span<std::byte> data, size_t es) {
  if (es <= 1) return;
  std::byte* p = data.data();
  const size_t n = data.size();
  switch (es) {
    case 2:
      for (size_t i = 0; i + 2 <= n; i += 2) {
        uint16_t v;
        std::memcpy(&v, p + i, 2);
        v = __builtin_bswap16(v);
        std::memcpy(p + i, &v, 2);
      }
      break;
    case 4:
      for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t v;
        std::memcpy(&v, p + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(p + i, &v, 4);
      }
      break;
    case 8:
      for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        std::memcpy(&v, p + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(p + i, &v, 8);
      }
      break;
    default:
      for (size_t i = 0; i + es <= n; i += es) std::reverse(p + i, p + i + es);
  }
}

Array Transpose(const Array& a, const std::vector<size_t>& perm) {
  const size_t rank = a.rank();
  if (perm.size() != rank) throw InvalidArgument("transpose: order has the wrong rank");
  if (rank == 0) return a;  // (and GCC 12 sees no out-of-range index walk below)
  Shape out_shape(rank);
  for (size_t i = 0; i < rank; ++i) out_shape[i] = a.shape()[perm[i]];
  Array out = Array::Uninitialized(a.dtype(), out_shape);
  const size_t es = a.element_size();
  std::vector<Index> src_stride(rank);
  Index s = 1;
  for (size_t i = rank; i-- > 0;) {
    src_stride[i] = s;
    s *= a.shape()[i];
  }
  std::vector<Index> stride(rank);  // source stride along each output axis
  for (size_t i = 0; i < rank; ++i) stride[i] = src_stride[perm[i]];
  std::vector<Index> idx(rank, 0);
  const std::byte* src = a.data();
  std::byte* dst = out.data();
  const Index n = out.num_elements();
  Index src_off = 0;
  for (Index k = 0; k < n; ++k) {
    std::memcpy(dst + k * es, src + src_off * es, es);
    for (size_t i = rank; i-- > 0;) {
      src_off += stride[i];
      if (++idx[i] < out_shape[i]) break;
      src_off -= stride[i] * out_shape[i];
      idx[i] = 0;
    }
  }
  return out;
}

}  // namespace volbatch
