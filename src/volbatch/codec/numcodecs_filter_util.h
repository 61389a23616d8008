// Internal to the numcodecs filters (codec/numcodecs_*.cc): one element as numpy holds it
// during a cast, loads and stores in a numpy type's byte order, and configuration helpers.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/codec/numcodecs_filters.h"

namespace volbatch::codec_internal {

enum class Num { kSigned, kUnsigned, kFloat };

// One element as numpy holds it during a cast: integers as their two's complement bits.
struct Value {
  Num kind = Num::kUnsigned;
  uint64_t i = 0;
  double f = 0;
};

double ToDouble(const Value& v);
// numpy's float -> integer cast (truncation); NaN and out of range give 0.
uint64_t FloatToIntBits(double f);
Value Load(const std::byte* p, Zarr2DType t);
// Casts `v` to `t` as numpy's astype does and stores it in t's byte order.
void Store(std::byte* p, Zarr2DType t, const Value& v);
// DataLoss unless `data` holds exactly `n` elements of `t`.
void CheckSize(ByteView data, size_t n, Zarr2DType t, const std::string& filter);
// A numpy dtype field of a filter configuration ("<i4", "int32" or "i4").
Zarr2DType TypeField(const nlohmann::json& config, const char* field, const std::string& what);
// The same, for the field naming the type a filter decodes to: when it is absent and the input
// type is known, the input type (as zarr-python 3 evolves a codec from the array's dtype).
Zarr2DType InputTypeField(const nlohmann::json& config, const char* field, const std::string& what,
                          std::optional<Zarr2DType> input);

// The Zarr v3 array->array codec "numcodecs.<id>" over a filter factory (numcodecs_array.cc).
std::shared_ptr<const ArrayCodec> MakeNumcodecsArrayCodec(const std::string& id,
                                                          NumcodecsFilterFactory factory,
                                                          const nlohmann::json& configuration);

}  // namespace volbatch::codec_internal
