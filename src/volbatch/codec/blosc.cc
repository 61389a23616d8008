// The Zarr v3 "blosc" bytes->bytes codec (Blosc 1 format), via the system libblosc with its
// thread-safe *_ctx functions and one internal thread (volbatch parallelizes across chunks).
//
// Byte layout: [16-byte header: version, compressor version, flags, typesize,
// nbytes LE32, blocksize LE32, cbytes LE32][block offsets LE32 x nblocks, unless the buffer is
// a plain copy][compressed blocks, each optionally split per byte of the element]. Shuffle and
// bitshuffle transpose the bytes/bits of each block's elements before compression.
// Cost: 16 bytes of header (+4 per block); lz4 with shuffle runs at ~1 GB/s per core. Decoding
// validates the header (sizes, block size, compressed length, the most the compressor can
// expand) before allocating exactly nbytes. The frame's own cbytes decides its end: bytes after
// it are ignored, as numcodecs ignores them (z5py wrote chunk files with a few more bytes). Blosc 1
// handles at most 2 GiB per chunk. A range of the decoded bytes costs only the blocks that hold it
// (DecodeRange, blosc_getitem).
#include <blosc.h>

#include <cstdint>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

int ShuffleCode(const std::string& s) {
  if (s == "shuffle") return BLOSC_SHUFFLE;
  if (s == "bitshuffle") return BLOSC_BITSHUFFLE;
  return BLOSC_NOSHUFFLE;
}

// An upper bound of decoded/encoded bytes for the compressor recorded in the header's flags
// (bits 5-7), twice what each can reach: LZ4/BloscLZ/Snappy ~255:1 (one extra length byte
// per 255 bytes), zlib 1032:1, zstd ~32768:1 (a 4-byte RLE block yields 128 KiB).
size_t MaxRatio(int format) {
  switch (format) {
    case BLOSC_ZLIB_FORMAT:
      return 2100;
    case BLOSC_ZSTD_FORMAT:
      return 65536;
    default:
      return 1024;
  }
}

struct Header {
  size_t nbytes = 0, cbytes = 0, blocksize = 0, typesize = 0;
  int flags = 0;
};

uint32_t LoadLE32(const std::byte* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Everything a decode relies on, checked before anything is allocated: the sizes agree with
// the buffer and with `max_decoded`, and the block count and the compressor's most expansion
// can account for nbytes. `encoded` is cut to the frame (cbytes); a shorter buffer is DataLoss.
Header CheckHeader(ByteView& encoded, size_t max_decoded) {
  if (encoded.size() < BLOSC_MIN_HEADER_LENGTH) {
    throw DataLoss("blosc: stream of " + std::to_string(encoded.size()) +
                   " bytes is shorter than the 16-byte blosc header");
  }
  int version = 0, compversion = 0;
  blosc_cbuffer_versions(encoded.data(), &version, &compversion);
  if (version < 1 || version > BLOSC_VERSION_FORMAT) {
    throw DataLoss("blosc: unsupported or corrupt header (format version " +
                   std::to_string(version) + ")");
  }
  Header h;
  blosc_cbuffer_sizes(encoded.data(), &h.nbytes, &h.cbytes, &h.blocksize);
  blosc_cbuffer_metainfo(encoded.data(), &h.typesize, &h.flags);
  if (h.cbytes > encoded.size() || h.cbytes < BLOSC_MIN_HEADER_LENGTH) {
    throw DataLoss("blosc: header says " + std::to_string(h.cbytes) + " compressed bytes, got " +
                   std::to_string(encoded.size()));
  }
  encoded = encoded.first(h.cbytes);
  if (h.nbytes > max_decoded) {
    throw DataLoss("blosc: header declares " + std::to_string(h.nbytes) +
                   " decoded bytes, more than the " + std::to_string(max_decoded) +
                   " this chunk may hold");
  }
  if (h.nbytes > 0 && (h.blocksize == 0 || h.blocksize > h.nbytes)) {
    throw DataLoss("blosc: corrupt header (block size " + std::to_string(h.blocksize) + " for " +
                   std::to_string(h.nbytes) + " bytes)");
  }
  if (h.typesize == 0) throw DataLoss("blosc: corrupt header (type size 0)");
  if (h.flags & BLOSC_MEMCPYED) {
    if (h.cbytes != h.nbytes + BLOSC_MAX_OVERHEAD) {
      throw DataLoss("blosc: corrupt header (a stored buffer of " + std::to_string(h.nbytes) +
                     " bytes must be " + std::to_string(h.nbytes + BLOSC_MAX_OVERHEAD) +
                     " bytes long, got " + std::to_string(h.cbytes) + ")");
    }
  } else if (h.nbytes > 0) {
    // Each block costs a 4-byte offset, and no compressor expands its input by more than
    // MaxRatio: a lying nbytes is caught here, before it becomes an allocation.
    const size_t nblocks = (h.nbytes + h.blocksize - 1) / h.blocksize;
    const size_t ratio = MaxRatio(h.flags >> 5);
    if (nblocks > (h.cbytes - BLOSC_MIN_HEADER_LENGTH) / 4 || h.nbytes / ratio > h.cbytes) {
      throw DataLoss("blosc: corrupt header (" + std::to_string(h.nbytes) +
                     " decoded bytes in blocks of " + std::to_string(h.blocksize) +
                     " cannot come from " + std::to_string(h.cbytes) + " bytes)");
    }
  }
  size_t validated = 0;
  if (blosc_cbuffer_validate(encoded.data(), encoded.size(), &validated) != 0 ||
      validated != h.nbytes) {
    throw DataLoss("blosc: corrupt header");
  }
  return h;
}

class BloscCodec : public BytesCodec {
 public:
  BloscCodec(std::string cname, int clevel, std::string shuffle, int typesize, int blocksize)
      : cname_(std::move(cname)),
        clevel_(clevel),
        shuffle_(std::move(shuffle)),
        typesize_(typesize),
        blocksize_(blocksize) {}

  nlohmann::json ToJson() const override {
    nlohmann::json c = {
        {"cname", cname_}, {"clevel", clevel_}, {"shuffle", shuffle_}, {"blocksize", blocksize_}};
    if (typesize_ > 0) c["typesize"] = typesize_;
    return {{"name", "blosc"}, {"configuration", c}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec& spec) const override {
    if (decoded.size() > static_cast<size_t>(BLOSC_MAX_BUFFERSIZE)) {
      throw Unsupported("blosc: a chunk of " + std::to_string(decoded.size()) +
                        " bytes exceeds Blosc 1's limit of " +
                        std::to_string(BLOSC_MAX_BUFFERSIZE) +
                        " bytes; use smaller chunks or another codec");
    }
    const size_t typesize = typesize_ > 0 ? static_cast<size_t>(typesize_) : ByteSize(spec.dtype);
    Bytes out(decoded.size() + BLOSC_MAX_OVERHEAD);
    const int n = blosc_compress_ctx(clevel_, ShuffleCode(shuffle_), typesize, decoded.size(),
                                     decoded.data(), out.data(), out.size(), cname_.c_str(),
                                     static_cast<size_t>(blocksize_), 1);
    if (n <= 0) {
      throw Internal("blosc: compression failed (code " + std::to_string(n) + ") for " +
                     std::to_string(decoded.size()) + " bytes with cname " + cname_);
    }
    out.resize(static_cast<size_t>(n));
    return out;
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    const Header h = CheckHeader(encoded, max_decoded);  // cuts `encoded` to the frame
    Bytes out(h.nbytes);
    if (h.nbytes == 0) return out;
    const int n = blosc_decompress_ctx(encoded.data(), out.data(), out.size(), 1);
    if (n < 0 || static_cast<size_t>(n) != h.nbytes) {
      throw DataLoss("blosc: corrupt stream (decompression returned " + std::to_string(n) +
                     ", expected " + std::to_string(h.nbytes) + " bytes)");
    }
    return out;
  }

  bool DecodesRanges() const override { return true; }

  // blosc_getitem decodes only the blocks that hold the range (a 64^3 uint32 chunk written by
  // numcodecs has 8 blocks of 8 slices). It trusts each block's offset, so those of the blocks
  // it will read are checked here first; the streams inside a block are bounded by libblosc
  // as in a whole decode.
  std::optional<Bytes> DecodeRange(ByteView encoded, size_t offset, size_t length,
                                   size_t max_decoded, const ChunkSpec&) const override {
    const Header h = CheckHeader(encoded, max_decoded);  // cuts `encoded` to the frame
    if (offset > h.nbytes || length > h.nbytes - offset) {
      throw DataLoss("blosc: bytes [" + std::to_string(offset) + ", " +
                     std::to_string(offset + length) + ") asked of a stream that decodes to " +
                     std::to_string(h.nbytes));
    }
    if (h.flags & BLOSC_MEMCPYED) {
      const auto* from = encoded.data() + BLOSC_MAX_OVERHEAD + offset;
      return Bytes(from, from + length);
    }
    if (length == 0 || offset % h.typesize != 0 || length % h.typesize != 0) return std::nullopt;
    const size_t nblocks = (h.nbytes + h.blocksize - 1) / h.blocksize;
    const size_t first_data = BLOSC_MIN_HEADER_LENGTH + 4 * nblocks;
    for (size_t j = offset / h.blocksize; j <= (offset + length - 1) / h.blocksize; ++j) {
      const size_t start = LoadLE32(encoded.data() + BLOSC_MIN_HEADER_LENGTH + 4 * j);
      if (start < first_data || start >= encoded.size()) {
        throw DataLoss("blosc: corrupt stream (block " + std::to_string(j) + " starts at " +
                       std::to_string(start) + " of " + std::to_string(encoded.size()) + " bytes)");
      }
    }
    Bytes out(length);
    const int n = blosc_getitem(encoded.data(), static_cast<int>(offset / h.typesize),
                                static_cast<int>(length / h.typesize), out.data());
    if (n < 0 || static_cast<size_t>(n) != length) {
      throw DataLoss("blosc: corrupt stream (decoding bytes " + std::to_string(offset) + " to " +
                     std::to_string(offset + length) + " returned " + std::to_string(n) + ")");
    }
    return out;
  }

 private:
  std::string cname_;
  int clevel_;
  std::string shuffle_;
  int typesize_;  // 0: the chunk's element size
  int blocksize_;
};

}  // namespace

void RegisterBloscCodec() {
  RegisterBytesCodec("blosc", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("blosc", config);
    const std::string cname =
        r.Enum("cname", "lz4", {"blosclz", "lz4", "lz4hc", "snappy", "zstd", "zlib"});
    const int clevel = static_cast<int>(r.Int("clevel", 5, 0, 9));
    const std::string shuffle =
        r.Enum("shuffle", "shuffle", {"noshuffle", "shuffle", "bitshuffle"});
    const int typesize = static_cast<int>(r.Int("typesize", 0, 1, BLOSC_MAX_TYPESIZE));
    const int blocksize = static_cast<int>(r.Int("blocksize", 0, 0, BLOSC_MAX_BUFFERSIZE));
    r.Finish();
    if (blosc_compname_to_compcode(cname.c_str()) < 0) {
      throw Unsupported("blosc.cname \"" + cname + "\" is not built into this libblosc (has: " +
                        blosc_list_compressors() + ")");
    }
    return std::make_shared<BloscCodec>(cname, clevel, shuffle, typesize, blocksize);
  });
}

}  // namespace volbatch
