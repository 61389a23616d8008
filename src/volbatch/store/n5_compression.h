// N5 "compression" objects <-> the codec registry. N5 names its compressions and their
// parameters its own way ({"type": "gzip", "level": -1, "useZlib": false}); this is the one
// place that translates them to registry codecs ("gzip", "zlib", "bz2", "xz", "n5_lz4",
// "zstd", "blosc") and back.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "volbatch/codec/codec.h"

namespace volbatch {

struct N5Compression {
  std::string codec;                                        // registry name; empty for raw
  nlohmann::json configuration = nlohmann::json::object();  // the codec's configuration
};

// The compression of an N5 dataset's attributes: "compression", else the legacy top-level
// "compressionType", else raw. `what` names the attributes file for messages.
N5Compression ParseN5Compression(const nlohmann::json& attributes, DataType dtype,
                                 const std::string& what);

// The N5 "compression" object for CreateOptions::codecs (Zarr v3 bytes->bytes codec objects;
// empty = raw). More than one codec, or one N5 cannot express, is InvalidArgument naming it.
nlohmann::json N5CompressionFromCodecs(const nlohmann::json& codecs);

// The codec of a compression (nullptr for raw); registry errors are prefixed with `what`.
std::shared_ptr<const BytesCodec> MakeN5Codec(const N5Compression& c, const std::string& what);

}  // namespace volbatch
