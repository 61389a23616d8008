// The Zarr v3 "bytes" codec: the chunk's elements in C order, little or big endian. Costs one
// copy (plus a byte swap when the endianness differs from the host's), or none inside a chain
// with compressors (EncodedView, DecodeOwned).
#include <cstring>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

class BytesEndianCodec : public ArrayToBytesCodec {
 public:
  explicit BytesEndianCodec(bool big) : big_(big) {}
  nlohmann::json ToJson() const override {
    return {{"name", "bytes"}, {"configuration", {{"endian", big_ ? "big" : "little"}}}};
  }
  Bytes Encode(const Array& a, const ChunkSpec&) const override {
    Bytes b = CopyBytes(a.bytes());
    if (big_) SwapBytes(b, a.element_size());
    return b;
  }
  Array Decode(ByteView in, const ChunkSpec& spec) const override {
    const size_t n = spec.num_bytes();
    if (in.size() != n) {
      throw DataLoss("bytes codec: chunk has " + std::to_string(in.size()) + " bytes, expected " +
                     std::to_string(n) + " for shape " + ShapeToString(spec.shape) + " " +
                     std::string(DataTypeName(spec.dtype)));
    }
    return DecodeOwned(CopyBytes(in), spec);
  }
  std::optional<ByteView> EncodedView(const Array& a, const ChunkSpec&) const override {
    if (big_ && a.element_size() > 1) return std::nullopt;
    return a.bytes();
  }
  bool DecodesAsIs(const ChunkSpec& spec) const override {
    return !big_ || ByteSize(spec.dtype) == 1;
  }
  Array DecodeOwned(Bytes&& in, const ChunkSpec& spec) const override {
    const size_t n = spec.num_bytes();
    if (in.size() != n) {
      throw DataLoss("bytes codec: chunk has " + std::to_string(in.size()) + " bytes, expected " +
                     std::to_string(n) + " for shape " + ShapeToString(spec.shape) + " " +
                     std::string(DataTypeName(spec.dtype)));
    }
    if (big_) SwapBytes(in, ByteSize(spec.dtype));
    return Array::FromBytes(spec.dtype, spec.shape, std::move(in));
  }
  size_t EncodedSizeBound(const ChunkSpec& spec) const override { return spec.num_bytes(); }

 private:
  bool big_;
};

}  // namespace

void RegisterBytesEndianCodec() {
  RegisterArrayToBytesCodec("bytes", [](const nlohmann::json& config) {
    std::string endian = "little";
    if (config.contains("endian")) {
      if (!config["endian"].is_string()) throw InvalidArgument("bytes.endian must be a string");
      endian = config["endian"].get<std::string>();
    }
    if (endian != "little" && endian != "big") {
      throw InvalidArgument("bytes.endian must be \"little\" or \"big\", got \"" + endian + "\"");
    }
    return std::make_shared<BytesEndianCodec>(endian == "big");
  });
}

}  // namespace volbatch
