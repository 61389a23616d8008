#include "volbatch/hdf5/hdf5_attribute_value.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

// Elements at most: beyond this an attribute is data, not metadata (and JSON would be huge).
constexpr uint64_t kMaxElements = uint64_t{1} << 20;

uint64_t Load(const std::byte* p, size_t size, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t at = big_endian ? i : size - 1 - i;
    v = (v << 8) | static_cast<uint64_t>(p[at]);
  }
  return v;
}

json Number(const AttributeValue& v, const std::byte* p) {
  const uint64_t bits = Load(p, v.element_size, v.big_endian);
  switch (v.kind) {
    case AttributeValue::Kind::kUnsignedInt:
      return bits;
    case AttributeValue::Kind::kSignedInt: {
      const unsigned shift = 64 - 8 * static_cast<unsigned>(v.element_size);
      return static_cast<int64_t>(bits << shift) >> shift;  // sign-extend
    }
    default: {
      const double d = v.element_size == 4
                           ? static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits)))
                           : std::bit_cast<double>(bits);
      if (!std::isfinite(d)) return std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity");
      return d;
    }
  }
}

// HDF5 strings are bytes (ASCII or UTF-8 by their character set, Latin-1 in old files in
// practice); JSON text must be UTF-8, so each byte that does not start a well-formed UTF-8
// sequence becomes U+FFFD.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto byte = [&](size_t at) { return at < s.size() ? static_cast<unsigned char>(s[at]) : 0u; };
  auto cont = [&](size_t at) { return (byte(at) & 0xC0) == 0x80; };
  while (i < s.size()) {
    const unsigned c = byte(i);
    size_t n = 0;  // length of a well-formed sequence at i, 0 if none
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = cont(i + 1) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      n = byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      n = byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

json FixedString(const std::byte* p, size_t size) {
  const char* c = reinterpret_cast<const char*>(p);
  size_t n = 0;
  while (n < size && c[n] != '\0') ++n;
  std::string s(c, n);
  while (!s.empty() && s.back() == ' ') s.pop_back();  // space-padded strings
  return ValidUtf8(s);
}

json Element(const AttributeValue& v, size_t i) {
  if (v.kind == AttributeValue::Kind::kStrings) return ValidUtf8(v.strings[i]);
  const std::byte* p = v.bytes.data() + i * v.element_size;
  if (v.kind == AttributeValue::Kind::kFixedString) return FixedString(p, v.element_size);
  return Number(v, p);
}

// Nested lists over dims[axis:], elements from *next on.
json Nest(const AttributeValue& v, size_t axis, size_t* next) {
  if (axis == v.dims.size()) return Element(v, (*next)++);
  json list = json::array();
  for (uint64_t i = 0; i < v.dims[axis]; ++i) list.push_back(Nest(v, axis + 1, next));
  return list;
}

void CheckSize(const AttributeValue& v) {
  using Kind = AttributeValue::Kind;
  const bool integer = v.kind == Kind::kSignedInt || v.kind == Kind::kUnsignedInt;
  const size_t s = v.element_size;
  if (integer && s != 1 && s != 2 && s != 4 && s != 8) {
    throw InvalidArgument("integer attribute of " + std::to_string(s) + " bytes per element");
  }
  if (v.kind == Kind::kFloat && s != 4 && s != 8) {
    throw InvalidArgument("float attribute of " + std::to_string(s) + " bytes per element");
  }
  if (v.kind == Kind::kFixedString && s == 0) {
    throw InvalidArgument("string attribute of 0 bytes per element");
  }
}

}  // namespace

json AttributeToJson(const AttributeValue& v) {
  if (v.kind == AttributeValue::Kind::kOther) return "<" + v.other + " attribute>";
  CheckSize(v);
  uint64_t n = 1;
  for (uint64_t d : v.dims) {
    if (d != 0 && n > kMaxElements / d) {
      throw InvalidArgument("attribute of more than " + std::to_string(kMaxElements) + " elements");
    }
    n *= d;
  }
  if (n > kMaxElements) {
    throw InvalidArgument("attribute of more than " + std::to_string(kMaxElements) + " elements");
  }
  const bool strings = v.kind == AttributeValue::Kind::kStrings;
  // Division, not n * element_size: a hostile element size must not overflow the product.
  const bool exact =
      strings ? v.strings.size() == n
              : v.bytes.size() % v.element_size == 0 && v.bytes.size() / v.element_size == n;
  if (!exact) {
    throw DataLoss("attribute holds " +
                   std::to_string(strings ? v.strings.size() : v.bytes.size()) +
                   (strings ? " strings" : " bytes") + " for " + std::to_string(n) + " elements");
  }
  size_t next = 0;
  return Nest(v, 0, &next);
}

}  // namespace volbatch
