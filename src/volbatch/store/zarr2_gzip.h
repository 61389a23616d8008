// The Zarr v2 "gzip" compressor as it is found in the field: z5py wrote zlib streams (RFC 1950)
// under the id "gzip", and numcodecs, zlib's inflate with automatic header detection and
// zarr-python read them. Such a chunk is told by its first two bytes: a gzip member starts
// 1f 8b, a zlib stream with a CMF/FLG pair (method 8, check bits a multiple of 31).
#pragma once

#include <memory>

#include "volbatch/codec/codec.h"

namespace volbatch {

// True if `encoded` starts with a zlib header rather than a gzip member's magic.
bool IsZlibFramed(ByteView encoded);

// Wraps the registry's gzip codec: writes gzip, reads gzip or zlib (detected per chunk).
std::shared_ptr<const BytesCodec> MakeZarr2GzipCodec(std::shared_ptr<const BytesCodec> gzip);

// The note `volbatch info` prints when a Zarr v2 gzip chunk is a zlib stream.
inline constexpr const char* kZlibFramedGzipNote =
    "gzip chunks hold zlib streams (as z5py wrote them); read as zlib";

}  // namespace volbatch
