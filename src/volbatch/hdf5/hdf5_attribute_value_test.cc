#include "volbatch/hdf5/hdf5_attribute_value.h"

#include <gtest/gtest.h>

#include <cstring>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using Kind = AttributeValue::Kind;

AttributeValue Numbers(Kind kind, size_t size, bool big, std::vector<uint64_t> dims,
                       std::vector<uint8_t> bytes) {
  AttributeValue v;
  v.kind = kind;
  v.element_size = size;
  v.big_endian = big;
  v.dims = std::move(dims);
  for (uint8_t b : bytes) v.bytes.push_back(std::byte{b});
  return v;
}

TEST(Hdf5AttributeValue, IntegersInEitherByteOrderAndSign) {
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kUnsignedInt, 2, false, {}, {0x01, 0x02})), 0x0201);
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kUnsignedInt, 2, true, {}, {0x01, 0x02})), 0x0102);
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kSignedInt, 1, false, {}, {0xff})), -1);
  EXPECT_EQ(AttributeToJson(
                Numbers(Kind::kSignedInt, 4, true, {2}, {0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 7})),
            nlohmann::json({-2, 7}));
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kUnsignedInt, 8, false, {1},
                                    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            nlohmann::json({UINT64_MAX}));
}

TEST(Hdf5AttributeValue, FloatsAndNonFinite) {
  const double resolution[3] = {40.0, 4.0, 4.0};
  AttributeValue v = Numbers(Kind::kFloat, 8, false, {3}, {});
  v.bytes.resize(sizeof(resolution));
  std::memcpy(v.bytes.data(), resolution, sizeof(resolution));  // x86: little-endian
  EXPECT_EQ(AttributeToJson(v), nlohmann::json({40.0, 4.0, 4.0}));
  // 1.5f big-endian: 3f c0 00 00; NaN as a string (JSON has no NaN).
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kFloat, 4, true, {}, {0x3f, 0xc0, 0, 0})), 1.5);
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kFloat, 4, true, {}, {0x7f, 0xc0, 0, 0})), "NaN");
}

TEST(Hdf5AttributeValue, NestedListsAndStrings) {
  EXPECT_EQ(AttributeToJson(Numbers(Kind::kUnsignedInt, 1, false, {2, 2}, {1, 2, 3, 4})),
            nlohmann::json({{1, 2}, {3, 4}}));
  AttributeValue s =
      Numbers(Kind::kFixedString, 4, false, {2}, {'n', 'm', 0, 0, 'u', 'm', ' ', ' '});
  EXPECT_EQ(AttributeToJson(s), nlohmann::json({"nm", "um"}));
  AttributeValue vs;
  vs.kind = Kind::kStrings;
  vs.strings = {"zyx"};
  EXPECT_EQ(AttributeToJson(vs), "zyx");
  // Latin-1 "µm" and a truncated sequence: replaced, and the JSON serializes (a fuzz finding).
  AttributeValue latin = Numbers(Kind::kFixedString, 3, false, {}, {0xb5, 'm', 0xe2});
  EXPECT_EQ(AttributeToJson(latin), "\xEF\xBF\xBDm\xEF\xBF\xBD");
  vs.strings = {std::string("\x9d\x80\x80", 3), "\xC2\xB5m"};
  vs.dims = {2};
  EXPECT_NO_THROW(AttributeToJson(vs).dump());
  EXPECT_EQ(AttributeToJson(vs)[1], "\xC2\xB5m");
  AttributeValue other;
  other.other = "compound";
  EXPECT_EQ(AttributeToJson(other), "<compound attribute>");
}

TEST(Hdf5AttributeValue, RefusesBytesThatDoNotMatchTheShape) {
  EXPECT_THROW(AttributeToJson(Numbers(Kind::kUnsignedInt, 2, false, {3}, {1, 2, 3, 4})), Error);
  EXPECT_THROW(AttributeToJson(Numbers(Kind::kUnsignedInt, 3, false, {}, {1, 2, 3})), Error);
  EXPECT_THROW(AttributeToJson(Numbers(Kind::kFloat, 2, false, {}, {1, 2})), Error);
  // Dimensions whose product overflows, and an element size that would overflow n * size.
  EXPECT_THROW(AttributeToJson(Numbers(Kind::kUnsignedInt, 1, false, {1ull << 40, 1ull << 40}, {})),
               Error);
  AttributeValue huge = Numbers(Kind::kFixedString, SIZE_MAX / 2 + 1, false, {2}, {});
  EXPECT_THROW(AttributeToJson(huge), Error);
}

}  // namespace
}  // namespace volbatch
