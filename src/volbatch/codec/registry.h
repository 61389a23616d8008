// The codec registry: codecs are found by their Zarr v3 name and built from their JSON
// "configuration". Adding a codec is one file (its class and a Register...() function) and one
// line in builtin.cc.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"

namespace volbatch {

using BytesCodecFactory =
    std::function<std::shared_ptr<const BytesCodec>(const nlohmann::json& configuration)>;
using ArrayCodecFactory =
    std::function<std::shared_ptr<const ArrayCodec>(const nlohmann::json& configuration)>;
using ArrayToBytesCodecFactory =
    std::function<std::shared_ptr<const ArrayToBytesCodec>(const nlohmann::json& configuration)>;

void RegisterBytesCodec(const std::string& name, BytesCodecFactory factory);
void RegisterArrayCodec(const std::string& name, ArrayCodecFactory factory);
void RegisterArrayToBytesCodec(const std::string& name, ArrayToBytesCodecFactory factory);

enum class CodecKind { kArrayToArray, kArrayToBytes, kBytesToBytes, kUnknown };
CodecKind KindOfCodec(const std::string& name);

// Factories throw InvalidArgument naming the field for bad configuration; unknown names throw
// Unsupported naming the codec.
std::shared_ptr<const BytesCodec> MakeBytesCodec(const std::string& name,
                                                 const nlohmann::json& configuration);
std::shared_ptr<const ArrayCodec> MakeArrayCodec(const std::string& name,
                                                 const nlohmann::json& configuration);
std::shared_ptr<const ArrayToBytesCodec> MakeArrayToBytesCodec(const std::string& name,
                                                               const nlohmann::json& configuration);

std::vector<std::string> RegisteredCodecNames();

// Codec spec strings of the CLI and job file ("raw", "gzip:6", "zstd:3", "blosc:lz4:5:shuffle")
// as a list of Zarr v3 bytes->bytes codec JSON objects ("raw" is the empty list).
nlohmann::json ParseCodecSpec(const std::string& spec);

}  // namespace volbatch
