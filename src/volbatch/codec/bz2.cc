// The "bz2" bytes->bytes codec (numcodecs BZ2, N5 bzip2): a plain bzip2 stream, via libbz2.
//
// Byte layout: ["BZh" + block size digit 1-9][blocks of up to 100k x level bytes, each a
// 48-bit magic, CRC-32 and Burrows-Wheeler/Huffman coded data][48-bit end magic, combined
// CRC-32, bit padding]. Several streams may be concatenated (python's bz2 reads them all,
// and so do we).
// Cost: ~14 bytes of framing; slow (~10-20 MB/s compression, ~30-60 MB/s decompression) but
// dense. bzip2 records no size and can expand enormously, so decoding streams into a buffer
// that grows up to max_decoded.
#include <bzlib.h>

#include <algorithm>
#include <climits>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr size_t kMaxStep = UINT_MAX / 2;  // bz_stream counts in unsigned int

class Bz2Codec : public BytesCodec {
 public:
  explicit Bz2Codec(int level) : level_(level) {}
  nlohmann::json ToJson() const override {
    return {{"name", "bz2"}, {"configuration", {{"level", level_}}}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    bz_stream s{};
    if (BZ2_bzCompressInit(&s, level_, 0, 0) != BZ_OK) throw Internal("bz2: cannot initialize");
    struct End {
      bz_stream* s;
      ~End() { BZ2_bzCompressEnd(s); }
    } end{&s};
    // bzip2's worst case is about 1% + 600 bytes larger than its input.
    Bytes out(decoded.size() + decoded.size() / 100 + 1024);
    size_t in_pos = 0, out_pos = 0;
    while (true) {
      const size_t in_step = std::min(decoded.size() - in_pos, kMaxStep);
      s.next_in = const_cast<char*>(reinterpret_cast<const char*>(decoded.data() + in_pos));
      s.avail_in = static_cast<unsigned>(in_step);
      if (out_pos == out.size()) out.resize(out.size() * 2);
      const size_t out_step = std::min(out.size() - out_pos, kMaxStep);
      s.next_out = reinterpret_cast<char*>(out.data() + out_pos);
      s.avail_out = static_cast<unsigned>(out_step);
      const bool last = in_pos + in_step == decoded.size();
      const int r = BZ2_bzCompress(&s, last ? BZ_FINISH : BZ_RUN);
      in_pos += in_step - s.avail_in;
      out_pos += out_step - s.avail_out;
      if (r == BZ_STREAM_END) break;
      if (r != BZ_RUN_OK && r != BZ_FINISH_OK) {
        throw Internal("bz2: compression failed (code " + std::to_string(r) + ")");
      }
    }
    out.resize(out_pos);
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    if (encoded.empty()) throw DataLoss("bz2: empty stream (not even a bzip2 header)");
    codec_internal::BoundedOutput out(
        "bz2", max_decoded, codec_internal::InitialDecodeGuess(encoded.size(), max_decoded));
    size_t in_pos = 0;
    while (in_pos < encoded.size()) {  // one iteration per concatenated stream
      bz_stream s{};
      if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) throw Internal("bz2: cannot initialize");
      struct End {
        bz_stream* s;
        ~End() { BZ2_bzDecompressEnd(s); }
      } end{&s};
      while (true) {
        if (out.FreeSize() == 0) out.Grow();
        const size_t in_step = std::min(encoded.size() - in_pos, kMaxStep);
        const size_t out_step = std::min(out.FreeSize(), kMaxStep);
        s.next_in = const_cast<char*>(reinterpret_cast<const char*>(encoded.data() + in_pos));
        s.avail_in = static_cast<unsigned>(in_step);
        s.next_out = reinterpret_cast<char*>(out.Free());
        s.avail_out = static_cast<unsigned>(out_step);
        const int r = BZ2_bzDecompress(&s);
        in_pos += in_step - s.avail_in;
        out.Commit(out_step - s.avail_out);
        if (r == BZ_STREAM_END) break;
        if (r != BZ_OK) {
          throw DataLoss("bz2: corrupt stream (" +
                         std::string(r == BZ_DATA_ERROR_MAGIC ? "not a bzip2 stream"
                                     : r == BZ_DATA_ERROR     ? "bad data or CRC"
                                                              : "code " + std::to_string(r)) +
                         " at input offset " + std::to_string(in_pos) + ")");
        }
        if (in_pos == encoded.size() && s.avail_out > 0) {
          throw DataLoss("bz2: truncated stream (ends before its end-of-stream marker)");
        }
      }
    }
    return out.Take();
  }

 private:
  int level_;
};

}  // namespace

void RegisterBz2Codec() {
  RegisterBytesCodec("bz2", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("bz2", config);
    const int level = static_cast<int>(r.Int("level", 9, 1, 9));
    r.Finish();
    return std::make_shared<Bz2Codec>(level);
  });
}

}  // namespace volbatch
