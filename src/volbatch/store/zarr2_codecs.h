// Zarr v2 compressors are numcodecs configurations ({"id": "zstd", "level": 3}); volbatch's
// codec registry speaks Zarr v3 ({"name": "zstd", "configuration": {"level": 3}}). This is the
// translation both ways, for the "compressor" and for byte codecs in a "filters" list.
//
//   numcodecs id        Zarr v3 codec   notes
//   gzip, zlib, bz2     same name       {"level"}
//   zstd                zstd            {"level", "checksum"}
//   blosc               blosc           shuffle 0/1/2/-1 <-> "noshuffle"/"shuffle"/"bitshuffle"
//                                       (-1, numcodecs' auto: bitshuffle for 1-byte elements);
//                                       typesize = the element size the compressor sees
//   lzma (format 1)     xz              the XZ container; other formats are Unsupported
//   lz4                 lz4             numcodecs framing (4-byte little-endian size + block)
//   crc32c              crc32c          checksum appended (numcodecs >= 0.13, location "end")
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "volbatch/codec/codec.h"

namespace volbatch {

// True if `id` names a numcodecs bytes codec that volbatch can translate.
bool IsNumcodecsBytesCodec(const std::string& id);

// numcodecs configuration -> Zarr v3 codec JSON. `typesize` is the element size of the data
// entering the codec (blosc shuffles by it). Unknown ids and unsupported settings throw
// Unsupported, malformed fields InvalidArgument; both name `what` (e.g. "compressor in
// /data/a.zarr/.zarray").
nlohmann::json NumcodecsToV3(const nlohmann::json& config, size_t typesize,
                             const std::string& what);

// Zarr v3 bytes->bytes codec JSON -> numcodecs configuration, with every setting spelled out.
// Throws InvalidArgument naming `what` for a codec Zarr v2 readers could not decode.
nlohmann::json V3ToNumcodecs(const nlohmann::json& codec, const std::string& what);

// NumcodecsToV3 followed by the registry lookup; registry errors get `what` as context.
std::shared_ptr<const BytesCodec> MakeNumcodecsCodec(const nlohmann::json& config, size_t typesize,
                                                     const std::string& what);

}  // namespace volbatch
