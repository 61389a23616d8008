// libdeflate compressors/decompressors cached per thread (allocating one costs up to ~1 MB and
// a few microseconds), and a decompression loop that grows its output geometrically but never
// past the caller's bound: libdeflate decompresses whole buffers, so a too-small guess is
// retried with twice the room (at most ~2x the work of one pass).
#include "volbatch/codec/deflate_common.h"

#include <libdeflate.h>

#include <algorithm>
#include <array>
#include <memory>

#include "volbatch/core/error.h"

namespace volbatch::codec_internal {
namespace {

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_compressor* Compressor(int level) {
  thread_local std::array<std::unique_ptr<libdeflate_compressor, CompressorDeleter>, 13> cache;
  auto& c = cache.at(static_cast<size_t>(level));
  if (!c) {
    c.reset(libdeflate_alloc_compressor(level));
    if (!c)
      throw Internal("libdeflate: cannot allocate a compressor for level " + std::to_string(level));
  }
  return c.get();
}

libdeflate_decompressor* Decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d;
  if (!d) {
    d.reset(libdeflate_alloc_decompressor());
    if (!d) throw Internal("libdeflate: cannot allocate a decompressor");
  }
  return d.get();
}

}  // namespace

size_t DeflateExpansionCap(size_t encoded) {
  // Every deflate symbol takes at least one bit and a length/distance pair (two symbols) yields
  // at most 258 bytes, so n bytes of input decode to at most 1032 n bytes.
  constexpr size_t kRatio = 1032;
  if (encoded > (SIZE_MAX - 1024) / kRatio) return SIZE_MAX;
  return encoded * kRatio + 1024;
}

Bytes DeflateCompress(DeflateWrapper wrapper, int level, ByteView in) {
  libdeflate_compressor* c = Compressor(level);
  const bool gzip = wrapper == DeflateWrapper::kGzip;
  const size_t bound = gzip ? libdeflate_gzip_compress_bound(c, in.size())
                            : libdeflate_zlib_compress_bound(c, in.size());
  Bytes out(bound);
  const size_t n = gzip ? libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size())
                        : libdeflate_zlib_compress(c, in.data(), in.size(), out.data(), out.size());
  if (n == 0)
    throw Internal(std::string(gzip ? "gzip" : "zlib") + ": libdeflate compression failed");
  out.resize(n);
  return out;
}

size_t DeflateDecompressMember(DeflateWrapper wrapper, ByteView in, Bytes& out, size_t& out_size,
                               size_t limit, size_t hint, const std::string& what) {
  libdeflate_decompressor* d = Decompressor();
  const size_t room = limit - out_size;  // caller keeps out_size <= limit
  const size_t cap = std::min(room, DeflateExpansionCap(in.size()));
  size_t avail = std::min(hint, cap);
  while (true) {
    if (out.size() < out_size + avail) out.resize(out_size + avail);
    size_t used_in = 0, produced = 0;
    const libdeflate_result r =
        wrapper == DeflateWrapper::kGzip
            ? libdeflate_gzip_decompress_ex(d, in.data(), in.size(), out.data() + out_size, avail,
                                            &used_in, &produced)
            : libdeflate_zlib_decompress_ex(d, in.data(), in.size(), out.data() + out_size, avail,
                                            &used_in, &produced);
    switch (r) {
      case LIBDEFLATE_SUCCESS:
        out_size += produced;
        return used_in;
      case LIBDEFLATE_INSUFFICIENT_SPACE:
        if (avail >= cap) {
          if (cap == room) {
            throw DataLoss(what + ": stream decodes to more than " + std::to_string(limit) +
                           " bytes (the most this chunk may hold)");
          }
          throw DataLoss(what + ": corrupt stream (decodes to more than deflate allows)");
        }
        avail = avail == 0 ? std::min<size_t>(cap, 64 * 1024) : (avail > cap / 2 ? cap : avail * 2);
        break;
      default:
        throw DataLoss(what + ": corrupt or truncated stream (bad " +
                       (wrapper == DeflateWrapper::kGzip
                            ? "gzip header, deflate data or CRC-32"
                            : "zlib header, deflate data or Adler-32") +
                       ")");
    }
  }
}

}  // namespace volbatch::codec_internal
