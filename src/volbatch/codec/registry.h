// The codec registry: codecs are found by their Zarr v3 name and built from their JSON
// "configuration". Adding a codec is one file (its class and a Register...() function) and one
// line in builtin.cc.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/numpy_dtype.h"

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

// Codec spec strings of the CLI and job file ("raw", "gzip:6", "zstd:3", "blosc:lz4:5:shuffle",
// "delta+shuffle+zstd:3"): "+"-separated parts, each a short form "name[:param...]" or Zarr v3
// JSON; numcodecs' array filters ("numcodecs.delta", ...) first, then bytes->bytes codecs. The
// result is a list of Zarr v3 codec JSON objects ("raw" is the empty list) whose filters may
// leave out what the array's dtype decides; a format completes them with ResolveCodecSpec.
// With `dtype`, the filters are also checked against arrays of that type.
nlohmann::json ParseCodecSpec(const std::string& spec, std::optional<DataType> dtype = {});

// ParseCodecSpec's output completed for arrays whose elements enter the codecs as `type`: each
// numcodecs filter's decoded type ("dtype", "decode_dtype") defaults to the type it is given,
// numcodecs.shuffle's "elementsize" to that type's size (as zarr-python 3 evolves them from the
// array), and every field is spelled out as numcodecs needs it. Throws InvalidArgument or
// Unsupported naming "codecs[i] <name>" for a filter that does not fit the type (bitround on
// integers, packbits on anything but bool).
nlohmann::json ResolveCodecSpec(const nlohmann::json& codecs, Zarr2DType type);

// A whole Zarr v3 codec chain for resolved codecs: the array->array ones, then
// {"name": "bytes", "configuration": {"endian": endian}}, then the bytes->bytes ones.
nlohmann::json ChainAroundBytes(const nlohmann::json& resolved, const std::string& endian);

}  // namespace volbatch
