#include "volbatch/core/dtype.h"

#include <array>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeInfo, 12> kTypes = {{
    {DataType::kBool, "bool", 1},
    {DataType::kInt8, "int8", 1},
    {DataType::kInt16, "int16", 2},
    {DataType::kInt32, "int32", 4},
    {DataType::kInt64, "int64", 8},
    {DataType::kUint8, "uint8", 1},
    {DataType::kUint16, "uint16", 2},
    {DataType::kUint32, "uint32", 4},
    {DataType::kUint64, "uint64", 8},
    {DataType::kFloat16, "float16", 2},
    {DataType::kFloat32, "float32", 4},
    {DataType::kFloat64, "float64", 8},
}};

}  // namespace

size_t ByteSize(DataType t) { return kTypes[static_cast<size_t>(t)].size; }
std::string_view DataTypeName(DataType t) { return kTypes[static_cast<size_t>(t)].name; }

DataType ParseDataType(std::string_view name, std::string_view what) {
  for (const auto& info : kTypes) {
    if (info.name == name) return info.type;
  }
  throw InvalidArgument(std::string(what) + ": unknown data type \"" + std::string(name) +
                        "\" (expected bool, int8..int64, uint8..uint64, float16, float32, "
                        "float64)");
}

bool IsFloat(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kFloat32 || t == DataType::kFloat64;
}

bool IsSigned(DataType t) {
  switch (t) {
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
    case DataType::kInt64:
      return true;
    default:
      return IsFloat(t);
  }
}

}  // namespace volbatch
