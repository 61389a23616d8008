// An HDF5 attribute's value as JSON. The bytes are the attribute as stored in the file (its
// own byte order and element size), decoded here rather than by libhdf5 so that what a
// corrupt or hostile file can declare (element sizes, dimensions, string lengths) is checked
// by code the fuzzer reaches without libhdf5 (fuzz/hdf5_attribute_fuzz.cc). Cost: one pass
// over the bytes; nothing is allocated beyond the JSON for the elements the bytes hold.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/core/bytes.h"

namespace volbatch {

struct AttributeValue {
  enum class Kind { kSignedInt, kUnsignedInt, kFloat, kFixedString, kStrings, kOther };
  Kind kind = Kind::kOther;
  size_t element_size = 0;           // bytes per element (numbers, fixed-length strings)
  bool big_endian = false;           // numbers
  std::vector<uint64_t> dims;        // empty: a scalar
  Bytes bytes;                       // the elements, C order (not for kStrings)
  std::vector<std::string> strings;  // kStrings: variable-length strings, already read
  std::string other;                 // kOther: the class name, reported instead of a value
};

// Scalars become a JSON number or string, 1-D values a list, N-D values nested lists. Strings
// come out as valid UTF-8 (bytes that are not become U+FFFD), so the JSON always serializes.
// Throws DataLoss if the bytes do not hold dims' elements (or hold more), InvalidArgument for
// a number size that is not 1, 2, 4 or 8 (floats: 4 or 8); a kOther value becomes
// "<compound attribute>" so that one odd attribute does not hide the others.
nlohmann::json AttributeToJson(const AttributeValue& v);

}  // namespace volbatch
