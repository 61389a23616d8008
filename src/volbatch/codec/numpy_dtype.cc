#include "volbatch/codec/numpy_dtype.h"

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

struct Kind {
  DataType dtype;
  char kind;
  int size;
};

constexpr Kind kKinds[] = {
    {DataType::kBool, 'b', 1},    {DataType::kInt8, 'i', 1},    {DataType::kInt16, 'i', 2},
    {DataType::kInt32, 'i', 4},   {DataType::kInt64, 'i', 8},   {DataType::kUint8, 'u', 1},
    {DataType::kUint16, 'u', 2},  {DataType::kUint32, 'u', 4},  {DataType::kUint64, 'u', 8},
    {DataType::kFloat16, 'f', 2}, {DataType::kFloat32, 'f', 4}, {DataType::kFloat64, 'f', 8},
};

}  // namespace

Zarr2DType ParseZarr2DType(std::string_view s, std::string_view what) {
  const std::string quoted = "\"" + std::string(s) + "\"";
  if (s.size() < 3 || (s[0] != '<' && s[0] != '>' && s[0] != '|')) {
    throw InvalidArgument(std::string(what) + ": dtype " + quoted +
                          " is not a numpy type string such as \"<u2\" or \"|u1\"");
  }
  const char order = s[0];
  const char kind = s[1];
  int size = 0;
  for (char c : s.substr(2)) {
    if (c < '0' || c > '9' || size > 1000) {
      throw Unsupported(std::string(what) + ": dtype " + quoted +
                        " is not supported (volbatch reads bool, int8..int64, uint8..uint64, "
                        "float16, float32, float64)");
    }
    size = size * 10 + (c - '0');
  }
  for (const Kind& k : kKinds) {
    if (k.kind != kind || k.size != size) continue;
    // numpy uses '|' ("not applicable") for one-byte types but accepts '<' and '>' too; a
    // multi-byte type needs a byte order.
    if (order == '|' && size > 1) {
      throw InvalidArgument(std::string(what) + ": dtype " + quoted +
                            " has no byte order (expected '<' or '>')");
    }
    return Zarr2DType{k.dtype, order == '>' && size > 1};
  }
  throw Unsupported(std::string(what) + ": dtype " + quoted +
                    " is not supported (volbatch reads bool, int8..int64, uint8..uint64, "
                    "float16, float32, float64)");
}

Zarr2DType ParseNumpyDTypeLenient(std::string_view s, std::string_view what) {
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|')) return ParseZarr2DType(s, what);
  for (const Kind& k : kKinds) {
    if (s == DataTypeName(k.dtype)) return Zarr2DType{k.dtype, false};
  }
  if (s.size() >= 2) {  // "i4", "u1", "b1"
    const std::string order = s.substr(1) == "1" ? "|" : "<";
    return ParseZarr2DType(order + std::string(s), what);
  }
  return ParseZarr2DType(s, what);  // the error
}

std::string Zarr2DTypeString(Zarr2DType t) {
  for (const Kind& k : kKinds) {
    if (k.dtype != t.dtype) continue;
    const char order = k.size == 1 ? '|' : (t.big_endian ? '>' : '<');
    return std::string{order, k.kind} + std::to_string(k.size);
  }
  throw Internal("Zarr2DTypeString: unknown data type");
}

}  // namespace volbatch
