// Byte layout: a gzip member ([1f 8b 08 ...][deflate][CRC-32][ISIZE]) or a zlib stream
// ([CMF FLG][deflate][Adler-32 BE]); the first two bytes decide. Cost: a two-byte look, then the
// codec's own decode; writing is always gzip.
#include "volbatch/store/zarr2_gzip.h"

#include "volbatch/codec/registry.h"

namespace volbatch {
namespace {

class Zarr2GzipCodec : public BytesCodec {
 public:
  explicit Zarr2GzipCodec(std::shared_ptr<const BytesCodec> gzip)
      : gzip_(std::move(gzip)), zlib_(MakeBytesCodec("zlib", nlohmann::json::object())) {}

  nlohmann::json ToJson() const override { return gzip_->ToJson(); }
  Bytes Encode(ByteView decoded, const ChunkSpec& spec) const override {
    return gzip_->Encode(decoded, spec);
  }
  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec& spec) const override {
    return (IsZlibFramed(encoded) ? zlib_ : gzip_)->Decode(encoded, max_decoded, spec);
  }
  size_t MaxEncodedSize(size_t decoded_size) const override {
    return gzip_->MaxEncodedSize(decoded_size);
  }

 private:
  std::shared_ptr<const BytesCodec> gzip_, zlib_;
};

}  // namespace

bool IsZlibFramed(ByteView encoded) {
  if (encoded.size() < 2) return false;
  const unsigned cmf = std::to_integer<unsigned>(encoded[0]);
  const unsigned flg = std::to_integer<unsigned>(encoded[1]);
  return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

std::shared_ptr<const BytesCodec> MakeZarr2GzipCodec(std::shared_ptr<const BytesCodec> gzip) {
  return std::make_shared<Zarr2GzipCodec>(std::move(gzip));
}

}  // namespace volbatch
