// The N5 block header (layout in n5_block.h): 4 + 4 ndim (+ 4 in mode 1) big-endian bytes,
// parsed without allocating anything sized by the header itself.
#include "volbatch/store/n5_block.h"

#include <string>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

uint32_t ReadBe32(const std::byte* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
uint16_t ReadBe16(const std::byte* p) { return uint16_t((uint32_t(p[0]) << 8) | uint32_t(p[1])); }

void AppendBe32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::byte((v >> shift) & 0xff));
}
void AppendBe16(Bytes& out, uint16_t v) {
  out.push_back(std::byte(v >> 8));
  out.push_back(std::byte(v & 0xff));
}

}  // namespace

N5BlockHeader ParseN5BlockHeader(ByteView block, size_t rank) {
  auto truncated = [&](size_t need) {
    return DataLoss("N5 block is truncated: " + std::to_string(block.size()) +
                    " bytes, its header needs " + std::to_string(need));
  };
  if (block.size() < 4) throw truncated(4);
  N5BlockHeader h;
  h.mode = ReadBe16(block.data());
  const uint16_t ndim = ReadBe16(block.data() + 2);
  if (h.mode == 2) {
    throw DataLoss("N5 block has mode 2 (object), which holds no array elements");
  }
  if (h.mode > 2) {
    throw DataLoss("N5 block has unknown mode " + std::to_string(h.mode) +
                   " (expected 0 = default or 1 = varlength)");
  }
  if (ndim != rank) {
    throw DataLoss("N5 block header declares " + std::to_string(ndim) +
                   " dimensions, the dataset has " + std::to_string(rank));
  }
  h.size = 4 + 4 * size_t{ndim} + (h.mode == 1 ? 4 : 0);
  if (block.size() < h.size) throw truncated(h.size);
  h.dims.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    // x comes first on disk; C order puts it last.
    h.dims[rank - 1 - i] = ReadBe32(block.data() + 4 + 4 * i);
  }
  if (h.mode == 1) h.num_elements = ReadBe32(block.data() + 4 + 4 * size_t{ndim});
  return h;
}

Bytes EncodeN5BlockHeader(const Shape& dims) {
  if (dims.size() > UINT16_MAX) {
    throw InvalidArgument("N5 block rank " + std::to_string(dims.size()) + " exceeds 65535");
  }
  Bytes out;
  out.reserve(4 + 4 * dims.size());
  AppendBe16(out, 0);
  AppendBe16(out, static_cast<uint16_t>(dims.size()));
  for (size_t i = dims.size(); i-- > 0;) {
    if (dims[i] < 0 || dims[i] > INT64_C(0xffffffff)) {
      throw InvalidArgument("N5 block dimension " + std::to_string(dims[i]) +
                            " does not fit in 32 bits");
    }
    AppendBe32(out, static_cast<uint32_t>(dims[i]));
  }
  return out;
}

}  // namespace volbatch
