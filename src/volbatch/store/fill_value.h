// Fill values as Zarr writes them in JSON: numbers, true/false, "NaN", "Infinity",
// "-Infinity", and hex strings ("0x7fc00000") for exact float bit patterns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "volbatch/codec/codec.h"

namespace volbatch {

// One element's bytes (native endianness). null means 0. Throws InvalidArgument naming `what`.
Bytes ParseFillValue(const nlohmann::json& j, DataType dtype, const std::string& what);
nlohmann::json FillValueToJson(const Bytes& fill, DataType dtype);

}  // namespace volbatch
