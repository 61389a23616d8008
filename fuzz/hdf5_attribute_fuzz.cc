// libFuzzer target: an HDF5 attribute's stored value decoded to JSON (hdf5_attribute_value.h),
// with every field a hostile file could declare taken from the input: the kind, the element
// size, the byte order, the dimensions and the bytes. libhdf5's own parsing of the file is not
// fuzzed here (it is not volbatch's code); what volbatch does with what it hands over is.
//
// Input: kind (1 byte), element size (2), big-endian (1), rank (1), rank x dim (2 each), then
// the value's bytes (variable-length strings: split at NUL bytes).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "volbatch/hdf5/hdf5_attribute_value.h"

namespace {

using volbatch::AttributeValue;

// Leaves of the nested lists: the element count the dimensions declare.
uint64_t Leaves(const nlohmann::json& j, size_t depth) {
  if (depth == 0) return 1;
  volbatch::fuzz::Check(j.is_array(), "a list where the rank wants one");
  uint64_t n = 0;
  for (const auto& e : j) n += Leaves(e, depth - 1);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volbatch::fuzz::InputReader in(data, size);
  AttributeValue v;
  v.kind = static_cast<AttributeValue::Kind>(in.Byte() % 6);
  v.element_size = in.U16();
  v.big_endian = in.Byte() & 1;
  const size_t rank = in.Byte() % 5;
  for (size_t i = 0; i < rank; ++i) v.dims.push_back(in.U16());
  const auto rest = in.Rest();
  if (v.kind == AttributeValue::Kind::kStrings) {
    std::string s;
    for (std::byte b : rest) {
      if (b == std::byte{0}) {
        v.strings.push_back(s);
        s.clear();
      } else {
        s.push_back(static_cast<char>(b));
      }
    }
  } else {
    v.bytes = volbatch::fuzz::ToBytes(rest);
    v.other = "compound";
  }
  volbatch::fuzz::RejectOnError([&] {
    const nlohmann::json j = volbatch::AttributeToJson(v);
    if (v.kind == AttributeValue::Kind::kOther) return;
    uint64_t n = 1;
    for (uint64_t d : v.dims) n *= d;
    volbatch::fuzz::Check(Leaves(j, v.dims.size()) == n, "element count differs from dims");
    if (v.kind == AttributeValue::Kind::kStrings) {
      volbatch::fuzz::Check(v.strings.size() == n, "decoded more strings than stored");
    } else {
      volbatch::fuzz::Check(n * v.element_size == v.bytes.size(),
                            "decoded a value whose bytes do not match its shape");
    }
    (void)j.dump();  // every decoded value must serialize (no invalid UTF-8 escapes a dump)
  });
  return 0;
}
