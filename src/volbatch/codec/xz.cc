// The "xz" bytes->bytes codec: the .xz container with an LZMA2 filter and a CRC64 check, via
// liblzma. This is what numcodecs LZMA writes by default (format=FORMAT_XZ, check=CHECK_CRC64)
// and what N5's XzCompression writes.
//
// Byte layout: [12-byte stream header: fd 37 7a 58 5a 00, flags, CRC32][blocks: header,
// LZMA2 data, padding, CRC64 of the block's data][index][12-byte stream footer]; streams may
// be concatenated (and padded with multiples of 4 zero bytes), which we accept on decode.
// Cost: ~60 bytes of framing; slow (~1-20 MB/s compression depending on the preset,
// ~50-100 MB/s decompression) but the densest codec here. Decoding streams into a buffer that
// grows up to max_decoded, with a 256 MiB memory limit on the decoder (preset 9 needs 65 MiB).
#include <lzma.h>

#include <algorithm>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr uint64_t kDecoderMemLimit = uint64_t{256} << 20;

std::string LzmaError(lzma_ret r) {
  switch (r) {
    case LZMA_FORMAT_ERROR:
      return "not an .xz stream";
    case LZMA_OPTIONS_ERROR:
      return "unsupported options";
    case LZMA_DATA_ERROR:
      return "corrupt data or check mismatch";
    case LZMA_BUF_ERROR:
      return "truncated stream";
    case LZMA_MEMLIMIT_ERROR:
      return "needs more than 256 MiB of decoder memory";
    case LZMA_MEM_ERROR:
      return "out of memory";
    case LZMA_UNSUPPORTED_CHECK:
      return "unsupported integrity check";
    default:
      return "liblzma error " + std::to_string(static_cast<int>(r));
  }
}

class XzCodec : public BytesCodec {
 public:
  explicit XzCodec(uint32_t level) : level_(level) {}
  nlohmann::json ToJson() const override {
    return {{"name", "xz"}, {"configuration", {{"level", level_}}}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    Bytes out(lzma_stream_buffer_bound(decoded.size()));
    size_t out_pos = 0;
    const lzma_ret r = lzma_easy_buffer_encode(
        level_, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(decoded.data()),
        decoded.size(), reinterpret_cast<uint8_t*>(out.data()), &out_pos, out.size());
    if (r != LZMA_OK) throw Internal("xz: compression failed: " + LzmaError(r));
    out.resize(out_pos);
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    if (encoded.empty()) throw DataLoss("xz: empty stream (not even a stream header)");
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r = lzma_stream_decoder(&s, kDecoderMemLimit, LZMA_CONCATENATED);
    if (r != LZMA_OK) throw Internal("xz: cannot initialize the decoder: " + LzmaError(r));
    struct End {
      lzma_stream* s;
      ~End() { lzma_end(s); }
    } end{&s};
    codec_internal::BoundedOutput out(
        "xz", max_decoded, codec_internal::InitialDecodeGuess(encoded.size(), max_decoded));
    s.next_in = reinterpret_cast<const uint8_t*>(encoded.data());
    s.avail_in = encoded.size();
    while (true) {
      if (out.FreeSize() == 0) out.Grow();
      s.next_out = reinterpret_cast<uint8_t*>(out.Free());
      s.avail_out = out.FreeSize();
      const size_t before = s.avail_out;
      r = lzma_code(&s, LZMA_FINISH);  // all input is present from the start
      out.Commit(before - s.avail_out);
      if (r == LZMA_STREAM_END) break;
      if (r != LZMA_OK) throw DataLoss("xz: " + LzmaError(r));
    }
    if (s.avail_in != 0) {
      throw DataLoss("xz: " + std::to_string(s.avail_in) + " unexpected bytes after the stream");
    }
    return out.Take();
  }

 private:
  uint32_t level_;
};

}  // namespace

void RegisterXzCodec() {
  RegisterBytesCodec("xz", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("xz", config);
    int64_t level = r.Int("level", 6, 0, 9);
    if (r.Has("preset")) {  // numcodecs LZMA's name for it
      const int64_t preset = r.Int("preset", 6, 0, 9);
      if (r.Has("level") && preset != level) {
        throw InvalidArgument("xz.level (" + std::to_string(level) + ") and xz.preset (" +
                              std::to_string(preset) + ") disagree");
      }
      level = preset;
    }
    r.Finish();
    return std::make_shared<XzCodec>(static_cast<uint32_t>(level));
  });
}

}  // namespace volbatch
