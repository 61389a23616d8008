// numcodecs' checksum codecs under their Zarr v3 names: "numcodecs.crc32", "numcodecs.adler32"
// (zlib's CRC-32 and Adler-32) and "numcodecs.fletcher32" (HDF5's Fletcher-32).
//
// Byte layout: crc32, adler32: [checksum LE32][payload] with "location": "start" (the default,
// and all numcodecs before 0.14 writes), or [payload][checksum LE32] with "end".
// fletcher32: [payload][checksum LE32], the checksum over the payload's 16-bit little-endian
// words (an odd payload padded with one zero byte): sum1 = sum of words mod 65535, sum2 = sum
// of the running sum1 mod 65535, checksum = sum2 << 16 | sum1.
// Cost: 4 bytes per chunk; one pass to check (zlib's CRC-32 runs at several GB/s, Adler-32
// faster; Fletcher-32 at ~1 GB/s here) and one copy.
#include <zlib.h>

#include <functional>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;
using Checksum = std::function<uint32_t(ByteView)>;

uint32_t ZlibCrc32(ByteView data) {
  uLong c = crc32(0, nullptr, 0);
  for (size_t pos = 0; pos < data.size();) {
    const size_t step = std::min<size_t>(data.size() - pos, UINT32_MAX / 2);
    c = crc32(c, reinterpret_cast<const Bytef*>(data.data() + pos), static_cast<uInt>(step));
    pos += step;
  }
  return static_cast<uint32_t>(c);
}

uint32_t ZlibAdler32(ByteView data) {
  uLong c = adler32(0, nullptr, 0);
  for (size_t pos = 0; pos < data.size();) {
    const size_t step = std::min<size_t>(data.size() - pos, UINT32_MAX / 2);
    c = adler32(c, reinterpret_cast<const Bytef*>(data.data() + pos), static_cast<uInt>(step));
    pos += step;
  }
  return static_cast<uint32_t>(c);
}

uint32_t Fletcher32(ByteView data) {
  uint32_t sum1 = 0, sum2 = 0;
  const size_t n = data.size();
  for (size_t i = 0; i < n; i += 2) {
    const uint32_t lo = std::to_integer<uint32_t>(data[i]);
    const uint32_t hi = i + 1 < n ? std::to_integer<uint32_t>(data[i + 1]) : 0;
    sum1 = (sum1 + (lo | hi << 8)) % 0xffff;
    sum2 = (sum2 + sum1) % 0xffff;
  }
  return sum2 << 16 | sum1;
}

std::string Hex(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

class ChecksumCodec : public BytesCodec {
 public:
  ChecksumCodec(std::string id, Checksum checksum, bool at_end, bool has_location)
      : id_(std::move(id)),
        checksum_(std::move(checksum)),
        at_end_(at_end),
        has_location_(has_location) {}

  json ToJson() const override {
    json c = json::object();
    // numcodecs before 0.14 refuses a "location" argument: written only when not the default.
    if (has_location_ && at_end_) c["location"] = "end";
    return {{"name", "numcodecs." + id_}, {"configuration", c}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    Bytes out(decoded.size() + 4);
    std::byte* payload = out.data() + (at_end_ ? 0 : 4);
    if (!decoded.empty()) std::memcpy(payload, decoded.data(), decoded.size());
    codec_internal::StoreLE32(out.data() + (at_end_ ? decoded.size() : 0), checksum_(decoded));
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    const std::string name = "numcodecs." + id_;
    if (encoded.size() < 4) {
      throw DataLoss(name + ": stream of " + std::to_string(encoded.size()) +
                     " bytes is shorter than its 4-byte checksum");
    }
    const ByteView payload = encoded.subspan(at_end_ ? 0 : 4, encoded.size() - 4);
    if (payload.size() > max_decoded) {
      throw DataLoss(name + ": payload of " + std::to_string(payload.size()) +
                     " bytes is more than the " + std::to_string(max_decoded) +
                     " this chunk may hold");
    }
    const uint32_t stored =
        codec_internal::LoadLE32(encoded.data() + (at_end_ ? payload.size() : 0));
    const uint32_t computed = checksum_(payload);
    if (stored != computed) {
      throw DataLoss(name + ": checksum mismatch (stored " + Hex(stored) + ", computed " +
                     Hex(computed) + ")");
    }
    return CopyBytes(payload);
  }

  size_t MaxEncodedSize(size_t decoded_size) const override {
    return decoded_size > SIZE_MAX - 4 ? SIZE_MAX : decoded_size + 4;
  }

 private:
  std::string id_;
  Checksum checksum_;
  bool at_end_;
  bool has_location_;  // false: fletcher32, whose checksum is always at the end
};

BytesCodecFactory Checksum32Factory(const std::string& id, Checksum checksum) {
  return [id, checksum](const json& config) -> std::shared_ptr<const BytesCodec> {
    codec_internal::ConfigReader r("numcodecs." + id, config);
    const bool at_end = r.Raw("location").is_null()
                            ? false
                            : r.Enum("location", "start", {"start", "end"}) == "end";
    r.Finish();
    return std::make_shared<ChecksumCodec>(id, checksum, at_end, true);
  };
}

}  // namespace

void RegisterNumcodecsChecksums() {
  RegisterBytesCodec("numcodecs.crc32", Checksum32Factory("crc32", ZlibCrc32));
  RegisterBytesCodec("numcodecs.adler32", Checksum32Factory("adler32", ZlibAdler32));
  RegisterBytesCodec("numcodecs.fletcher32", [](const json& config) {
    codec_internal::ConfigReader r("numcodecs.fletcher32", config);
    r.Finish();
    return std::make_shared<ChecksumCodec>("fletcher32", Fletcher32, true, false);
  });
}

}  // namespace volbatch
