// numpy type strings ("|b1", "<u2", ">f8"): byte-order character, kind and size, as Zarr v2
// "dtype" and numcodecs filter configurations spell element types.
#pragma once

#include <string>
#include <string_view>

#include "volbatch/core/dtype.h"

namespace volbatch {

struct Zarr2DType {
  DataType dtype = DataType::kUint8;
  bool big_endian = false;  // always false for one-byte types

  friend bool operator==(const Zarr2DType&, const Zarr2DType&) = default;
};

// Parses a numpy type string. Unknown or unsupported types (structured, strings, datetimes,
// complex) throw Unsupported, malformed ones InvalidArgument; both name `what` and the string.
Zarr2DType ParseZarr2DType(std::string_view s, std::string_view what);
// Also the other spellings numpy accepts and zarr-python 3 writes into numcodecs
// configurations: a name ("int32", "float64", "bool": little endian) or a short code ("i4").
Zarr2DType ParseNumpyDTypeLenient(std::string_view s, std::string_view what);
// "|b1", "<i2", ">f4": one-byte types always use '|' as numpy does.
std::string Zarr2DTypeString(Zarr2DType t);

}  // namespace volbatch
