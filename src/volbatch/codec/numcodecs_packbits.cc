// numcodecs' PackBits filter ("packbits"): booleans to bits.
// Byte layout: [number of padding bits in the last byte, 0-7][the elements as bits, first
// element in the most significant bit, as np.packbits]: 1 + ceil(n / 8) bytes for n elements.
// Cost: one pass; an eighth of the size.
#include "volbatch/codec/numcodecs_filter_util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using namespace codec_internal;

constexpr Zarr2DType kBool{DataType::kBool, false};
constexpr Zarr2DType kUint8{DataType::kUint8, false};

class PackBitsFilter : public Zarr2Filter {
 public:
  nlohmann::json ToJson() const override { return {{"id", "packbits"}}; }
  std::string Summary() const override { return "packbits"; }
  Zarr2DType decoded_type() const override { return kBool; }
  Zarr2DType encoded_type() const override { return kUint8; }
  size_t EncodedBytes(size_t n) const override { return 1 + (n + 7) / 8; }

  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, kBool, "packbits");
    Bytes out(EncodedBytes(n), std::byte{0});
    out[0] = std::byte(static_cast<uint8_t>((8 - n % 8) % 8));
    for (size_t i = 0; i < n; ++i) {
      if (dec[i] != std::byte{0})
        out[1 + i / 8] |= std::byte(static_cast<uint8_t>(0x80 >> (i % 8)));
    }
    return out;
  }

  Bytes Decode(ByteView enc, size_t n) const override {
    if (enc.size() != EncodedBytes(n) || std::to_integer<size_t>(enc[0]) != (8 - n % 8) % 8) {
      throw DataLoss("packbits filter: chunk has " + std::to_string(enc.size()) + " bytes" +
                     (enc.empty() ? ""
                                  : " declaring " + std::to_string(std::to_integer<int>(enc[0])) +
                                        " padding bits") +
                     ", expected " + std::to_string(EncodedBytes(n)) + " bytes for " +
                     std::to_string(n) + " elements");
    }
    Bytes out(n);
    for (size_t i = 0; i < n; ++i) {
      const bool bit = (std::to_integer<unsigned>(enc[1 + i / 8]) >> (7 - i % 8)) & 1;
      out[i] = std::byte(static_cast<uint8_t>(bit));
    }
    return out;
  }
};

std::shared_ptr<const Zarr2Filter> MakePackBits(const nlohmann::json&, const std::string& what,
                                                std::optional<Zarr2DType> input) {
  if (input && input->dtype != DataType::kBool) {
    throw Unsupported(what + ": packbits needs bool elements, got " + Zarr2DTypeString(*input));
  }
  return std::make_shared<PackBitsFilter>();
}

}  // namespace

void RegisterNumcodecsPackBitsFilter() { RegisterNumcodecsFilter("packbits", MakePackBits); }

}  // namespace volbatch
