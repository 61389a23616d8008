// Element data types. Names follow Zarr v3 ("uint8", "float32"); format drivers translate
// their own spellings (N5 "uint8", Zarr v2 "<u1") at their boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace volbatch {

enum class DataType : uint8_t {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kFloat16,
  kFloat32,
  kFloat64,
};

// IEEE half precision, kept as its bits; volbatch stores and moves it, it does not compute on it.
struct Float16 {
  uint16_t bits;
};

size_t ByteSize(DataType t);
std::string_view DataTypeName(DataType t);
// Throws InvalidArgument naming `what` (e.g. "data_type in /a/zarr.json") for an unknown name.
DataType ParseDataType(std::string_view name, std::string_view what = "data type");
bool IsFloat(DataType t);
bool IsSigned(DataType t);

// Calls f(T{}) with the C++ type that stores `t`.
template <typename F>
decltype(auto) VisitDataType(DataType t, F&& f) {
  switch (t) {
    case DataType::kBool:
      return f(bool{});
    case DataType::kInt8:
      return f(int8_t{});
    case DataType::kInt16:
      return f(int16_t{});
    case DataType::kInt32:
      return f(int32_t{});
    case DataType::kInt64:
      return f(int64_t{});
    case DataType::kUint8:
      return f(uint8_t{});
    case DataType::kUint16:
      return f(uint16_t{});
    case DataType::kUint32:
      return f(uint32_t{});
    case DataType::kUint64:
      return f(uint64_t{});
    case DataType::kFloat16:
      return f(Float16{});
    case DataType::kFloat32:
      return f(float{});
    case DataType::kFloat64:
      return f(double{});
  }
  return f(uint8_t{});
}

}  // namespace volbatch
