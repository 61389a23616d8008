// Shared libdeflate plumbing of the "gzip" and "zlib" codecs (internal to the codec layer).
#pragma once

#include <cstddef>
#include <string>

#include "volbatch/codec/codec.h"

namespace volbatch::codec_internal {

enum class DeflateWrapper { kZlib, kGzip };

// Compresses `in` as one zlib stream or one gzip member at `level` (0-9).
Bytes DeflateCompress(DeflateWrapper wrapper, int level, ByteView in);

// Decompresses one zlib stream or gzip member at the start of `in`, appending its output to
// `out` (whose first `out_size` bytes are kept; `out` may be larger). The total output stays
// <= `limit` or this throws DataLoss naming `what`. `hint` is a guess of this member's size.
// Returns the number of input bytes the stream occupied.
size_t DeflateDecompressMember(DeflateWrapper wrapper, ByteView in, Bytes& out, size_t& out_size,
                               size_t limit, size_t hint, const std::string& what);

// The most one deflate stream of `encoded` bytes can decode to (deflate's 1032:1 limit).
size_t DeflateExpansionCap(size_t encoded);

}  // namespace volbatch::codec_internal
