// The "lz4" bytes->bytes codec with numcodecs' LZ4 framing, via liblz4.
//
// Byte layout: [decoded size, LE32][one LZ4 block (the raw block format, no frame header)].
// Cost: 4 bytes of framing; ~500 MB/s compression and several GB/s decompression per core
// (acceleration > 1 trades ratio for speed). The declared size is checked against
// max_decoded and against LZ4's maximum expansion before the output is allocated, and the
// block must decode to exactly that size.
#include <lz4.h>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

class Lz4Codec : public BytesCodec {
 public:
  explicit Lz4Codec(int acceleration) : acceleration_(acceleration) {}
  nlohmann::json ToJson() const override {
    return {{"name", "lz4"}, {"configuration", {{"acceleration", acceleration_}}}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    if (decoded.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
      throw Unsupported("lz4: a chunk of " + std::to_string(decoded.size()) +
                        " bytes exceeds LZ4's limit of " + std::to_string(LZ4_MAX_INPUT_SIZE) +
                        " bytes; use smaller chunks or another codec");
    }
    const int n = static_cast<int>(decoded.size());
    const int bound = LZ4_compressBound(n);
    Bytes out(4 + static_cast<size_t>(bound));
    codec_internal::StoreLE32(out.data(), static_cast<uint32_t>(n));
    const int c =
        LZ4_compress_fast(reinterpret_cast<const char*>(decoded.data()),
                          reinterpret_cast<char*>(out.data() + 4), n, bound, acceleration_);
    if (c <= 0) throw Internal("lz4: compression failed");
    out.resize(4 + static_cast<size_t>(c));
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    if (encoded.size() < 5) {
      throw DataLoss("lz4: stream of " + std::to_string(encoded.size()) +
                     " bytes is shorter than the size header and one block");
    }
    const size_t declared = codec_internal::LoadLE32(encoded.data());
    const size_t block = encoded.size() - 4;
    if (declared > max_decoded) {
      throw DataLoss("lz4: header declares " + std::to_string(declared) +
                     " decoded bytes, more than the " + std::to_string(max_decoded) +
                     " this chunk may hold");
    }
    // A sequence of LZ4 costs at least one byte per 255 bytes of output.
    if (declared > block * 255 + 16 || declared > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) ||
        block > static_cast<size_t>(INT32_MAX)) {
      throw DataLoss("lz4: header declares " + std::to_string(declared) +
                     " decoded bytes, impossible for a block of " + std::to_string(block) +
                     " bytes");
    }
    Bytes out(declared);
    char dummy = 0;
    const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(encoded.data() + 4),
                                      declared ? reinterpret_cast<char*>(out.data()) : &dummy,
                                      static_cast<int>(block), static_cast<int>(declared));
    if (n < 0 || static_cast<size_t>(n) != declared) {
      throw DataLoss("lz4: corrupt block (declares " + std::to_string(declared) +
                     " bytes, decoding " + (n < 0 ? "failed" : "gave " + std::to_string(n)) + ")");
    }
    return out;
  }

 private:
  int acceleration_;
};

}  // namespace

void RegisterLz4Codec() {
  RegisterBytesCodec("lz4", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("lz4", config);
    const int acceleration = static_cast<int>(r.Int("acceleration", 1, 1, 65537));
    r.Finish();
    return std::make_shared<Lz4Codec>(acceleration);
  });
}

}  // namespace volbatch
