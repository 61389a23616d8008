// numcodecs' BitRound filter ("bitround", {"keepbits": k}): rounds each float's mantissa to its
// k leading bits (round half to even on the dropped bits), the rest zero, so a compressor after
// it does better. Lossy; decoding is the identity. The type is the buffer's (numcodecs has no
// dtype setting): float16, float32 or float64, with 10, 23 and 52 mantissa bits.
// Byte layout: the elements as they are (same type, same size). Cost: one pass.
#include <algorithm>
#include <cstring>

#include "volbatch/codec/numcodecs_filter_util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using namespace codec_internal;

class BitRoundFilter : public Zarr2Filter {
 public:
  BitRoundFilter(int keepbits, int mantissa, Zarr2DType type)
      : keepbits_(keepbits), mantissa_(mantissa), type_(type) {}
  nlohmann::json ToJson() const override { return {{"id", "bitround"}, {"keepbits", keepbits_}}; }
  std::string Summary() const override { return "bitround(" + std::to_string(keepbits_) + ")"; }
  Zarr2DType decoded_type() const override { return type_; }
  Zarr2DType encoded_type() const override { return type_; }

  Bytes Decode(ByteView enc, size_t n) const override {
    CheckSize(enc, n, type_, "bitround");
    return CopyBytes(enc);
  }

  // numpy on the same-width integer view: b += ((b >> m) & 1) + (1 << (m - 1)) - 1; b &= mask.
  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, type_, "bitround");
    Bytes out = CopyBytes(dec);
    if (keepbits_ == mantissa_) return out;
    const size_t size = ByteSize(type_.dtype);
    const int m = mantissa_ - keepbits_;
    const uint64_t width = size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
    const uint64_t mask = width & ~((uint64_t{1} << m) - 1);
    const uint64_t half = (uint64_t{1} << (m - 1)) - 1;
    for (size_t i = 0; i < n; ++i) {
      std::byte* p = out.data() + i * size;
      if (type_.big_endian) std::reverse(p, p + size);
      uint64_t b = 0;
      std::memcpy(&b, p, size);
      b = ((b + ((b >> m) & 1) + half) & mask) & width;
      std::memcpy(p, &b, size);
      if (type_.big_endian) std::reverse(p, p + size);
    }
    return out;
  }

 private:
  int keepbits_, mantissa_;
  Zarr2DType type_;
};

std::shared_ptr<const Zarr2Filter> MakeBitRound(const nlohmann::json& config,
                                                const std::string& what,
                                                std::optional<Zarr2DType> input) {
  const nlohmann::json k = config.value("keepbits", nlohmann::json());
  if (!k.is_number_integer() || k.get<int64_t>() < 0) {
    throw InvalidArgument(what + ": \"keepbits\" must be an integer >= 0, got " + k.dump());
  }
  const Zarr2DType type = input.value_or(Zarr2DType{DataType::kFloat64, false});
  int mantissa = 0;
  switch (type.dtype) {
    case DataType::kFloat16:
      mantissa = 10;
      break;
    case DataType::kFloat32:
      mantissa = 23;
      break;
    case DataType::kFloat64:
      mantissa = 52;
      break;
    default:
      throw Unsupported(what + ": bitround needs float elements, got " + Zarr2DTypeString(type));
  }
  if (k.get<int64_t>() > mantissa) {
    throw InvalidArgument(what + ": \"keepbits\" " + k.dump() + " exceeds the " +
                          std::to_string(mantissa) + " mantissa bits of " + Zarr2DTypeString(type));
  }
  return std::make_shared<BitRoundFilter>(k.get<int>(), mantissa, type);
}

}  // namespace

void RegisterNumcodecsBitRoundFilter() { RegisterNumcodecsFilter("bitround", MakeBitRound); }

}  // namespace volbatch
