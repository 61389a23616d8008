#include "volbatch/core/array.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

Array Iota(Shape shape) {
  Array a(DataType::kInt32, shape);
  std::iota(a.data_as<int32_t>(), a.data_as<int32_t>() + a.num_elements(), 0);
  return a;
}

TEST(Array, SliceCopiesTheRegionInCOrder) {
  Array a = Iota({3, 4, 5});
  Array s = a.Slice(Box({1, 1, 2}, {2, 2, 3}));
  ASSERT_EQ(s.shape(), (Shape{2, 2, 3}));
  const int32_t* p = s.data_as<int32_t>();
  EXPECT_EQ(p[0], 1 * 20 + 1 * 5 + 2);
  EXPECT_EQ(p[11], 2 * 20 + 2 * 5 + 4);
}

TEST(Array, CopyRegionMergesContiguousAxes) {
  Array a = Iota({4, 4, 4});
  Array b(DataType::kInt32, {6, 4, 4});
  CopyRegion(a, {1, 0, 0}, b, {2, 0, 0}, {3, 4, 4});
  EXPECT_EQ(b.data_as<int32_t>()[2 * 16], 16);
  EXPECT_EQ(b.data_as<int32_t>()[4 * 16 + 15], 63);
  EXPECT_EQ(b.data_as<int32_t>()[0], 0);
}

TEST(Array, FilledAndAllEqual) {
  float nan = std::nanf("");
  std::byte fill[4];
  std::memcpy(fill, &nan, 4);
  Array a = Array::Filled(DataType::kFloat32, {3, 3}, fill);
  EXPECT_TRUE(a.AllEqual(fill));
  EXPECT_FALSE(a.AllEqual({}));
  Array z(DataType::kUint16, {7});
  EXPECT_TRUE(z.AllEqual({}));
}

TEST(Array, TransposeAndSwap) {
  Array a = Iota({2, 3});
  Array t = Transpose(a, {1, 0});
  ASSERT_EQ(t.shape(), (Shape{3, 2}));
  const int32_t expect[] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data_as<int32_t>()[i], expect[i]);
  SwapBytes(t.bytes(), 4);
  EXPECT_EQ(t.data_as<uint32_t>()[1], 0x03000000u);
}

TEST(Array, FromBytesChecksTheSize) {
  EXPECT_THROW(Array::FromBytes(DataType::kUint16, {3}, Bytes(5)), Error);
  EXPECT_THROW(Array(DataType::kFloat64, {int64_t{1} << 62}), Error);
}

}  // namespace
}  // namespace volbatch
