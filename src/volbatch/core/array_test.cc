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

TEST(Array, AllElementsEqualStopsAtAnyDifference) {
  const std::byte fill[2] = {std::byte{1}, std::byte{2}};
  for (size_t n : {0, 1, 31, 32, 33, 100}) {
    Array a = Array::Filled(DataType::kUint16, {static_cast<Index>(n)}, fill);
    EXPECT_TRUE(AllElementsEqual(a.bytes(), fill)) << n;
    EXPECT_EQ(AllElementsEqual(a.bytes(), {}), n == 0) << n;
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      if (n == 0) break;
      Array b = a;  // a copy, not a view
      b.data()[2 * at + 1] = std::byte{3};
      EXPECT_FALSE(AllElementsEqual(b.bytes(), fill)) << n << " " << at;
      EXPECT_TRUE(a.AllEqual(fill));
    }
  }
}

TEST(Array, CopyBytesAndAppendBytes) {
  Bytes b;
  for (int i = 0; i < 100; ++i) {
    const std::byte part[3] = {std::byte(i), std::byte(i + 1), std::byte(i + 2)};
    AppendBytes(b, part);
  }
  ASSERT_EQ(b.size(), 300u);
  EXPECT_EQ(b[297], std::byte(99));
  EXPECT_EQ(b[4], std::byte(2));
  EXPECT_EQ(CopyBytes(b), b);
  EXPECT_TRUE(CopyBytes({}).empty());
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

// Empty arrays (a zero extent: an empty ROI, an empty slab) have no buffer at all; zeroing or
// filling one must not hand memset a null pointer (UBSan found both, issue 8).
TEST(Array, EmptyArraysHaveNoBytesAndEveryOperationWorks) {
  Array z(DataType::kFloat32, {0, 4});
  EXPECT_EQ(z.num_elements(), 0);
  EXPECT_TRUE(z.bytes().empty());
  const std::byte ones[4] = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{1}};
  Array f = Array::Filled(DataType::kFloat32, {3, 0}, ones);
  EXPECT_TRUE(f.bytes().empty());
  EXPECT_TRUE(Array::Filled(DataType::kUint8, {0}, {}).AllEqual({}));
  const std::byte mixed[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  EXPECT_TRUE(Array::Filled(DataType::kFloat32, {0}, mixed).AllEqual(mixed));
  EXPECT_EQ(Transpose(z, {1, 0}).shape(), (Shape{4, 0}));
  SwapBytes(z.bytes(), 4);
  Array b(DataType::kFloat32, {2, 4});
  CopyRegion(z, {0, 0}, b, {1, 0}, {0, 4});
  EXPECT_TRUE(b.AllEqual({}));
}

}  // namespace
}  // namespace volbatch
