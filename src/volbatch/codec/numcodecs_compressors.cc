// numcodecs' compressors under the Zarr v3 names zarr-python 3 gives them:
// {"name": "numcodecs.<id>", "configuration": <the numcodecs configuration without "id">}
// for zlib, gzip, bz2, lzma, zstd, lz4 and blosc. Each decodes with volbatch's codec of the same
// format and encodes as numcodecs does, byte for byte where numcodecs is deterministic: zlib,
// gzip and lzma through the libraries Python itself calls (zlib, liblzma's stream encoder),
// since libdeflate and liblzma's buffer encoder make other (valid) streams.
//
// Byte layouts are those of the underlying formats (see zlib.cc, gzip.cc, bz2.cc, xz.cc,
// zstd.cc, lz4.cc, blosc.cc): numcodecs adds no framing of its own, except LZ4's 4-byte
// little-endian size header (lz4.cc). gzip: we write mtime 0 where Python writes the time.
// blosc: zarr-python 3 hands numcodecs the chunk as a uint8 buffer, so blosc shuffles with
// typesize 1 (and numcodecs' automatic shuffle, -1, is then bitshuffle).
// Cost: that of the underlying codec; zlib/gzip encode at zlib's speed (~20-60 MB/s at level
// 1-6), slower than libdeflate.
#include <lzma.h>
#include <zlib.h>

#include <functional>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;
using Encoder = std::function<Bytes(ByteView)>;

// Decodes with `inner`; encodes with `encode` (numcodecs' exact bytes) or else with `inner`.
class NumcodecsCompressor : public BytesCodec {
 public:
  NumcodecsCompressor(json self, std::shared_ptr<const BytesCodec> inner, Encoder encode = {})
      : self_(std::move(self)), inner_(std::move(inner)), encode_(std::move(encode)) {}

  json ToJson() const override { return self_; }
  Bytes Encode(ByteView decoded, const ChunkSpec& spec) const override {
    return encode_ ? encode_(decoded) : inner_->Encode(decoded, spec);
  }
  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec& spec) const override {
    return inner_->Decode(encoded, max_decoded, spec);
  }
  size_t MaxEncodedSize(size_t decoded_size) const override {
    return inner_->MaxEncodedSize(decoded_size);
  }
  bool DecodesRanges() const override { return inner_->DecodesRanges(); }
  std::optional<Bytes> DecodeRange(ByteView encoded, size_t offset, size_t length,
                                   size_t max_decoded, const ChunkSpec& spec) const override {
    return inner_->DecodeRange(encoded, offset, length, max_decoded, spec);
  }

 private:
  json self_;
  std::shared_ptr<const BytesCodec> inner_;
  Encoder encode_;
};

json Named(const std::string& id, json configuration) {
  return {{"name", "numcodecs." + id}, {"configuration", std::move(configuration)}};
}

// numcodecs treats a null setting as its default.
int64_t IntOrNull(codec_internal::ConfigReader& r, const std::string& field, int64_t def,
                  int64_t lo, int64_t hi) {
  if (r.Has(field) && r.Raw(field).is_null()) return def;
  return r.Int(field, def, lo, hi);
}

void CheckZlib(int code, const char* what) {
  if (code != Z_OK && code != Z_STREAM_END) {
    throw Internal(std::string(what) + ": zlib error " + std::to_string(code));
  }
}

// zlib.compress(buf, level): one zlib stream.
Bytes ZlibCompress(ByteView in, int level) {
  uLongf n = compressBound(static_cast<uLong>(in.size()));
  Bytes out(n);
  CheckZlib(
      compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
                static_cast<uLong>(in.size()), level),
      "numcodecs.zlib");
  out.resize(n);
  return out;
}

// Python's GzipFile: header 1f 8b 08, no flags, mtime (0 here), XFL 2 at level 9 and 4 at
// level 1, OS 255; raw deflate at the level with zlib's default window and memory; CRC-32 and
// size mod 2^32, little endian.
Bytes GzipCompress(ByteView in, int level) {
  z_stream s{};
  CheckZlib(deflateInit2(&s, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            "numcodecs.gzip");
  struct End {
    z_stream* s;
    ~End() { deflateEnd(s); }
  } end{&s};
  const std::byte xfl{static_cast<uint8_t>(level == 9 ? 2 : level == 1 ? 4 : 0)};
  Bytes out = {std::byte{0x1f}, std::byte{0x8b}, std::byte{8}, std::byte{0}, std::byte{0},
               std::byte{0},    std::byte{0},    std::byte{0}, xfl,          std::byte{0xff}};
  const size_t header = out.size();
  out.resize(header + deflateBound(&s, static_cast<uLong>(in.size())) + 8);
  size_t in_pos = 0;
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    const size_t step = std::min<size_t>(in.size() - in_pos, UINT32_MAX / 2);
    s.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data() + in_pos));
    s.avail_in = static_cast<uInt>(step);
    if (s.total_out + header + 8 >= out.size()) out.resize(out.size() * 2);
    const size_t room = std::min<size_t>(out.size() - 8 - header - s.total_out, UINT32_MAX / 2);
    s.next_out = reinterpret_cast<Bytef*>(out.data() + header + s.total_out);
    s.avail_out = static_cast<uInt>(room);
    r = deflate(&s, in_pos + step == in.size() ? Z_FINISH : Z_NO_FLUSH);
    CheckZlib(r == Z_BUF_ERROR ? Z_OK : r, "numcodecs.gzip");
    in_pos += step - s.avail_in;
  }
  const size_t end_of_data = header + s.total_out;
  out.resize(end_of_data + 8);
  uLong crc = crc32(0, nullptr, 0);
  for (size_t pos = 0; pos < in.size();) {
    const size_t step = std::min<size_t>(in.size() - pos, UINT32_MAX / 2);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(in.data() + pos), static_cast<uInt>(step));
    pos += step;
  }
  codec_internal::StoreLE32(out.data() + end_of_data, static_cast<uint32_t>(crc));
  codec_internal::StoreLE32(out.data() + end_of_data + 4, static_cast<uint32_t>(in.size()));
  return out;
}

// lzma.compress(buf, format=FORMAT_XZ, check, preset): liblzma's easy stream encoder.
Bytes XzCompress(ByteView in, uint32_t preset, lzma_check check) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_easy_encoder(&s, preset, check) != LZMA_OK) {
    throw Internal("numcodecs.lzma: cannot initialize the encoder (preset " +
                   std::to_string(preset) + ")");
  }
  struct End {
    lzma_stream* s;
    ~End() { lzma_end(s); }
  } end{&s};
  Bytes out(lzma_stream_buffer_bound(in.size()));
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  s.next_out = reinterpret_cast<uint8_t*>(out.data());
  s.avail_out = out.size();
  lzma_ret r;
  while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK) {
    const size_t used = out.size() - s.avail_out;
    out.resize(out.size() * 2);
    s.next_out = reinterpret_cast<uint8_t*>(out.data() + used);
    s.avail_out = out.size() - used;
  }
  if (r != LZMA_STREAM_END) {
    throw Internal("numcodecs.lzma: compression failed (liblzma " +
                   std::to_string(static_cast<int>(r)) + ")");
  }
  out.resize(out.size() - s.avail_out);
  return out;
}

std::shared_ptr<const BytesCodec> MakeZlib(const json& config) {
  codec_internal::ConfigReader r("numcodecs.zlib", config);
  const int level = static_cast<int>(IntOrNull(r, "level", 1, -1, 9));
  r.Finish();
  return std::make_shared<NumcodecsCompressor>(
      Named("zlib", {{"level", level}}), MakeBytesCodec("zlib", json::object()),
      [level](ByteView in) { return ZlibCompress(in, level); });
}

std::shared_ptr<const BytesCodec> MakeGzip(const json& config) {
  codec_internal::ConfigReader r("numcodecs.gzip", config);
  const int level = static_cast<int>(IntOrNull(r, "level", 1, 0, 9));
  r.Finish();
  return std::make_shared<NumcodecsCompressor>(
      Named("gzip", {{"level", level}}), MakeBytesCodec("gzip", json::object()),
      [level](ByteView in) { return GzipCompress(in, level); });
}

std::shared_ptr<const BytesCodec> MakeBz2(const json& config) {
  codec_internal::ConfigReader r("numcodecs.bz2", config);
  const int64_t level = IntOrNull(r, "level", 1, 1, 9);
  r.Finish();
  // Python's bz2 calls libbz2 as the bz2 codec does (work factor 0): the same bytes.
  return std::make_shared<NumcodecsCompressor>(Named("bz2", {{"level", level}}),
                                               MakeBytesCodec("bz2", {{"level", level}}));
}

lzma_check LzmaCheck(int64_t check) {
  switch (check) {
    case -1:
    case 4:
      return LZMA_CHECK_CRC64;
    case 0:
      return LZMA_CHECK_NONE;
    case 1:
      return LZMA_CHECK_CRC32;
    case 10:
      return LZMA_CHECK_SHA256;
  }
  throw InvalidArgument("numcodecs.lzma.check must be -1, 0, 1, 4 or 10, got " +
                        std::to_string(check));
}

std::shared_ptr<const BytesCodec> MakeLzma(const json& config) {
  codec_internal::ConfigReader r("numcodecs.lzma", config);
  const int64_t format = IntOrNull(r, "format", 1, 0, 3);
  const int64_t check = IntOrNull(r, "check", -1, -1, 15);
  constexpr int64_t kExtreme = int64_t{1} << 31;
  const bool has_preset = r.Has("preset") && !r.Raw("preset").is_null();
  const int64_t preset = IntOrNull(r, "preset", 6, 0, kExtreme | 9);
  const json filters = r.Raw("filters");
  r.Finish();
  if (format != 1) {
    throw Unsupported("numcodecs.lzma.format " + std::to_string(format) +
                      " is not supported (only 1, the XZ container)");
  }
  if ((preset & ~kExtreme) > 9) {
    throw InvalidArgument("numcodecs.lzma.preset must be 0..9 (optionally | PRESET_EXTREME), got " +
                          std::to_string(preset));
  }
  const lzma_check lzma_check_id = LzmaCheck(check);
  json self = {{"format", format},
               {"check", check},
               {"preset", has_preset ? json(preset) : json(nullptr)},
               {"filters", filters}};
  Encoder encode;
  if (filters.is_null()) {
    encode = [preset, lzma_check_id](ByteView in) {
      return XzCompress(in, static_cast<uint32_t>(preset), lzma_check_id);
    };
  } else {
    // An XZ stream names its own filters, so any reads; writing a custom chain is not done.
    encode = [](ByteView) -> Bytes {
      throw Unsupported("numcodecs.lzma: writing with custom \"filters\" is not supported");
    };
  }
  return std::make_shared<NumcodecsCompressor>(Named("lzma", std::move(self)),
                                               MakeBytesCodec("xz", json::object()), encode);
}

std::shared_ptr<const BytesCodec> MakeZstd(const json& config) {
  codec_internal::ConfigReader r("numcodecs.zstd", config);
  const int64_t level = IntOrNull(r, "level", 1, -131072, 22);
  const bool checksum =
      r.Has("checksum") && !r.Raw("checksum").is_null() && r.Bool("checksum", false);
  r.Finish();
  // numcodecs before 0.12 refuses a "checksum" argument: written only when on.
  json self = {{"level", level}};
  if (checksum) self["checksum"] = true;
  return std::make_shared<NumcodecsCompressor>(
      Named("zstd", std::move(self)),
      MakeBytesCodec("zstd", {{"level", level}, {"checksum", checksum}}));
}

std::shared_ptr<const BytesCodec> MakeLz4(const json& config) {
  codec_internal::ConfigReader r("numcodecs.lz4", config);
  const int64_t acceleration = IntOrNull(r, "acceleration", 1, 1, 65537);
  r.Finish();
  return std::make_shared<NumcodecsCompressor>(
      Named("lz4", {{"acceleration", acceleration}}),
      MakeBytesCodec("lz4", {{"acceleration", acceleration}}));
}

std::shared_ptr<const BytesCodec> MakeBlosc(const json& config) {
  codec_internal::ConfigReader r("numcodecs.blosc", config);
  const std::string cname =
      r.Raw("cname").is_null()
          ? "lz4"
          : r.Enum("cname", "lz4", {"blosclz", "lz4", "lz4hc", "snappy", "zstd", "zlib"});
  const int64_t clevel = IntOrNull(r, "clevel", 5, 0, 9);
  const int64_t shuffle = IntOrNull(r, "shuffle", 1, -1, 2);
  const int64_t blocksize = IntOrNull(r, "blocksize", 0, 0, INT32_MAX);
  const int64_t typesize = IntOrNull(r, "typesize", 1, 1, 255);
  r.Finish();
  static const char* const kShuffles[] = {"noshuffle", "shuffle", "bitshuffle"};
  const int64_t resolved = shuffle == -1 ? (typesize == 1 ? 2 : 1) : shuffle;
  json self = {
      {"cname", cname}, {"clevel", clevel}, {"shuffle", shuffle}, {"blocksize", blocksize}};
  if (r.Has("typesize") && !r.Raw("typesize").is_null()) self["typesize"] = typesize;
  return std::make_shared<NumcodecsCompressor>(
      Named("blosc", std::move(self)), MakeBytesCodec("blosc", {{"cname", cname},
                                                                {"clevel", clevel},
                                                                {"shuffle", kShuffles[resolved]},
                                                                {"typesize", typesize},
                                                                {"blocksize", blocksize}}));
}

}  // namespace

void RegisterNumcodecsCompressors() {
  RegisterBytesCodec("numcodecs.zlib", MakeZlib);
  RegisterBytesCodec("numcodecs.gzip", MakeGzip);
  RegisterBytesCodec("numcodecs.bz2", MakeBz2);
  RegisterBytesCodec("numcodecs.lzma", MakeLzma);
  RegisterBytesCodec("numcodecs.zstd", MakeZstd);
  RegisterBytesCodec("numcodecs.lz4", MakeLz4);
  RegisterBytesCodec("numcodecs.blosc", MakeBlosc);
}

}  // namespace volbatch
