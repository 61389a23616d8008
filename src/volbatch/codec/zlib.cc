// The "zlib" bytes->bytes codec (RFC 1950; numcodecs Zlib, N5 "gzip" with useZlib), via
// libdeflate.
//
// Byte layout: [CMF FLG (2 bytes, optional 4-byte preset dictionary id is rejected)]
// [deflate data][Adler-32 of the data, big endian 4 bytes].
// Cost: 6 bytes of framing; ~100-300 MB/s compression at levels 1-6, ~1 GB/s decompression.
// zlib records no size, so decoding first tries a buffer of the caller's bound (the chunk size
// when this is the last codec) and doubles from a smaller guess when that bound is large.
#include <algorithm>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/deflate_common.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using codec_internal::DeflateWrapper;

class ZlibCodec : public BytesCodec {
 public:
  explicit ZlibCodec(int level) : level_(level) {}
  nlohmann::json ToJson() const override {
    return {{"name", "zlib"}, {"configuration", {{"level", level_}}}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    return codec_internal::DeflateCompress(DeflateWrapper::kZlib, level_, decoded);
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    if (encoded.size() < 6) {
      throw DataLoss("zlib: stream of " + std::to_string(encoded.size()) +
                     " bytes is shorter than a zlib stream (6 bytes)");
    }
    constexpr size_t kExactUpTo = size_t{64} << 20;
    const size_t limit = std::min(max_decoded, codec_internal::DeflateExpansionCap(encoded.size()));
    const size_t hint = limit <= kExactUpTo ? limit : std::max(kExactUpTo, encoded.size() * 4);
    Bytes out;
    size_t size = 0;
    const size_t used = codec_internal::DeflateDecompressMember(DeflateWrapper::kZlib, encoded, out,
                                                                size, max_decoded, hint, "zlib");
    if (used != encoded.size()) {
      throw DataLoss("zlib: " + std::to_string(encoded.size() - used) +
                     " unexpected bytes after the end of the zlib stream");
    }
    out.resize(size);
    if (out.capacity() > 2 * size + 4096) out.shrink_to_fit();
    return out;
  }

 private:
  int level_;
};

}  // namespace

void RegisterZlibCodec() {
  RegisterBytesCodec("zlib", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("zlib", config);
    const int level = static_cast<int>(r.Int("level", 5, 0, 9));
    r.Finish();
    return std::make_shared<ZlibCodec>(level);
  });
}

}  // namespace volbatch
