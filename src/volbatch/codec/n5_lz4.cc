// The "n5_lz4" bytes->bytes codec: N5's Lz4Compression, which is lz4-java's
// LZ4BlockOutputStream framing (not the LZ4 frame format, not numcodecs' LZ4).
//
// Byte layout: repeated blocks of
//   [magic "LZ4Block", 8 bytes]
//   [token, 1 byte: method (0x10 raw, 0x20 lz4) | level, where level = max(0,
//    ceil(log2(blockSize)) - 10) so that decoded length <= 1 << (10 + level)]
//   [compressed length, LE32][decoded length, LE32]
//   [checksum, LE32: XXH32(decoded bytes, seed 0x9747b28c) & 0x0FFFFFFF]
//   [payload: compressed length bytes, an LZ4 block or the raw bytes]
// ending with an empty block (raw method, lengths 0, checksum 0). A block is stored raw when
// LZ4 does not make it smaller.
// Cost: 21 bytes per block of blockSize (default 64 KiB) bytes plus a 21-byte end block; LZ4
// speed, plus one XXH32 pass (~5 GB/s) each way. Every length is checked against the level's
// block size, the remaining input and max_decoded before anything is allocated.
#include <lz4.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {

namespace codec_internal {

// XXH32 (Yann Collet's xxHash, 32-bit variant), written from its published specification.
uint32_t Xxh32(const std::byte* data, size_t n, uint32_t seed) {
  constexpr uint32_t kP1 = 2654435761U, kP2 = 2246822519U, kP3 = 3266489917U, kP4 = 668265263U,
                     kP5 = 374761393U;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  const unsigned char* const end = p + n;
  auto read32 = [](const unsigned char* q) {
    return uint32_t{q[0]} | uint32_t{q[1]} << 8 | uint32_t{q[2]} << 16 | uint32_t{q[3]} << 24;
  };
  auto round = [&](uint32_t acc, uint32_t lane) { return std::rotl(acc + lane * kP2, 13) * kP1; };
  uint32_t h;
  if (n >= 16) {
    uint32_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    const unsigned char* const limit = end - 16;
    do {
      v1 = round(v1, read32(p));
      v2 = round(v2, read32(p + 4));
      v3 = round(v3, read32(p + 8));
      v4 = round(v4, read32(p + 12));
      p += 16;
    } while (p <= limit);
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
  } else {
    h = seed + kP5;
  }
  h += static_cast<uint32_t>(n);
  while (end - p >= 4) {
    h = std::rotl(h + read32(p) * kP3, 17) * kP4;
    p += 4;
  }
  while (p < end) h = std::rotl(h + uint32_t{*p++} * kP5, 11) * kP1;
  h ^= h >> 15;
  h *= kP2;
  h ^= h >> 13;
  h *= kP3;
  h ^= h >> 16;
  return h;
}

}  // namespace codec_internal

namespace {

constexpr char kMagic[8] = {'L', 'Z', '4', 'B', 'l', 'o', 'c', 'k'};
constexpr size_t kHeader = 21;
constexpr uint32_t kSeed = 0x9747b28c;
constexpr int kMethodRaw = 0x10, kMethodLz4 = 0x20;
constexpr int kLevelBase = 10;
constexpr int64_t kMinBlockSize = 64, kMaxBlockSize = int64_t{1} << (kLevelBase + 0x0f);

uint32_t Checksum(const std::byte* p, size_t n) {
  return codec_internal::Xxh32(p, n, kSeed) & 0x0FFFFFFF;
}

class N5Lz4Codec : public BytesCodec {
 public:
  explicit N5Lz4Codec(int block_size) : block_size_(block_size) {
    const int ceil_log2 = std::bit_width(static_cast<unsigned>(block_size - 1));
    level_ = std::max(0, ceil_log2 - kLevelBase);
  }

  nlohmann::json ToJson() const override {
    return {{"name", "n5_lz4"}, {"configuration", {{"blockSize", block_size_}}}};
  }

  // Every block stored raw, each with its header, plus the end block.
  size_t MaxEncodedSize(size_t decoded_size) const override {
    const size_t bs = static_cast<size_t>(block_size_);
    const size_t headers = (decoded_size / bs + 2) * kHeader;
    return decoded_size > SIZE_MAX - headers ? SIZE_MAX : decoded_size + headers;
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    const size_t bs = static_cast<size_t>(block_size_);
    const size_t nblocks = (decoded.size() + bs - 1) / bs;
    const int bound = LZ4_compressBound(block_size_);
    Bytes out((nblocks + 1) * kHeader + decoded.size());  // raw is the worst case we keep
    Bytes scratch(static_cast<size_t>(bound));
    size_t o = 0;
    for (size_t pos = 0; pos < decoded.size(); pos += bs) {
      const size_t len = std::min(bs, decoded.size() - pos);
      const std::byte* src = decoded.data() + pos;
      const int c = LZ4_compress_default(reinterpret_cast<const char*>(src),
                                         reinterpret_cast<char*>(scratch.data()),
                                         static_cast<int>(len), bound);
      const bool raw = c <= 0 || static_cast<size_t>(c) >= len;
      const size_t clen = raw ? len : static_cast<size_t>(c);
      WriteHeader(out.data() + o, raw ? kMethodRaw : kMethodLz4, clen, len, Checksum(src, len));
      std::memcpy(out.data() + o + kHeader, raw ? src : scratch.data(), clen);
      o += kHeader + clen;
    }
    WriteHeader(out.data() + o, kMethodRaw, 0, 0, 0);
    out.resize(o + kHeader);
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    // First pass: validate every header and sum the decoded lengths, so the output is
    // allocated once, exactly, and only if it fits.
    size_t total = 0;
    size_t pos = 0;
    while (true) {
      const Block b = ReadHeader(encoded, pos);
      if (b.decoded == 0) {
        if (pos + kHeader != encoded.size()) {
          throw DataLoss("n5_lz4: " + std::to_string(encoded.size() - pos - kHeader) +
                         " unexpected bytes after the end block");
        }
        break;
      }
      total += b.decoded;
      if (total > max_decoded) {
        throw DataLoss("n5_lz4: blocks declare " + std::to_string(total) +
                       "+ decoded bytes, more than the " + std::to_string(max_decoded) +
                       " this chunk may hold");
      }
      pos += kHeader + b.compressed;
    }
    Bytes out(total);
    size_t o = 0;
    pos = 0;
    while (true) {
      const Block b = ReadHeader(encoded, pos);
      if (b.decoded == 0) break;
      const std::byte* payload = encoded.data() + pos + kHeader;
      std::byte* dst = out.data() + o;
      if (b.method == kMethodRaw) {
        std::memcpy(dst, payload, b.decoded);
      } else {
        const int n = LZ4_decompress_safe(
            reinterpret_cast<const char*>(payload), reinterpret_cast<char*>(dst),
            static_cast<int>(b.compressed), static_cast<int>(b.decoded));
        if (n < 0 || static_cast<size_t>(n) != b.decoded) {
          throw DataLoss("n5_lz4: corrupt LZ4 block at offset " + std::to_string(pos));
        }
      }
      if (Checksum(dst, b.decoded) != b.checksum) {
        throw DataLoss("n5_lz4: checksum mismatch in the block at offset " + std::to_string(pos));
      }
      o += b.decoded;
      pos += kHeader + b.compressed;
    }
    return out;
  }

 private:
  struct Block {
    int method;
    size_t compressed, decoded;
    uint32_t checksum;
  };

  void WriteHeader(std::byte* p, int method, size_t clen, size_t len, uint32_t check) const {
    std::memcpy(p, kMagic, 8);
    p[8] = static_cast<std::byte>(method | level_);
    codec_internal::StoreLE32(p + 9, static_cast<uint32_t>(clen));
    codec_internal::StoreLE32(p + 13, static_cast<uint32_t>(len));
    codec_internal::StoreLE32(p + 17, check);
  }

  // The same checks as lz4-java's LZ4BlockInputStream, plus: the payload must be present.
  static Block ReadHeader(ByteView in, size_t pos) {
    const std::string at = " at offset " + std::to_string(pos);
    if (in.size() - pos < kHeader) {
      throw DataLoss("n5_lz4: truncated stream: " + std::to_string(in.size() - pos) +
                     " bytes left where a 21-byte block header (or the end block)" + at +
                     " was expected");
    }
    const std::byte* p = in.data() + pos;
    if (std::memcmp(p, kMagic, 8) != 0) throw DataLoss("n5_lz4: no \"LZ4Block\" magic" + at);
    const int token = std::to_integer<int>(p[8]);
    Block b;
    b.method = token & 0xF0;
    const int level = kLevelBase + (token & 0x0F);
    const uint32_t clen = codec_internal::LoadLE32(p + 9);
    const uint32_t len = codec_internal::LoadLE32(p + 13);
    b.checksum = codec_internal::LoadLE32(p + 17);
    b.compressed = clen;
    b.decoded = len;
    if (b.method != kMethodRaw && b.method != kMethodLz4) {
      throw DataLoss("n5_lz4: unknown compression method " + std::to_string(b.method) + at);
    }
    if (len > (uint32_t{1} << level) || clen > INT32_MAX || (len == 0) != (clen == 0) ||
        (b.method == kMethodRaw && len != clen) || (len == 0 && b.checksum != 0)) {
      throw DataLoss("n5_lz4: corrupt block header" + at + " (compressed " + std::to_string(clen) +
                     ", decoded " + std::to_string(len) + " bytes)");
    }
    if (in.size() - pos - kHeader < b.compressed) {
      throw DataLoss("n5_lz4: truncated block" + at + ": needs " + std::to_string(clen) +
                     " bytes, " + std::to_string(in.size() - pos - kHeader) + " left");
    }
    return b;
  }

  int block_size_;
  int level_;
};

}  // namespace

void RegisterN5Lz4Codec() {
  RegisterBytesCodec("n5_lz4", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("n5_lz4", config);
    const int block_size =
        static_cast<int>(r.Int("blockSize", 65536, kMinBlockSize, kMaxBlockSize));
    r.Finish();
    return std::make_shared<N5Lz4Codec>(block_size);
  });
}

}  // namespace volbatch
