#include "volbatch/tile/padding.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

std::vector<Index> Indices(Index lo, Index hi, Index n, PaddingMode m) {
  std::vector<Index> v;
  for (Index i = lo; i < hi; ++i) v.push_back(PaddedSourceIndex(i, n, m));
  return v;
}

TEST(Padding, ReflectIsHalfSampleSymmetric) {
  // numpy.pad(np.arange(4), 5, mode="symmetric") == [3 3 2 1 0 | 0 1 2 3 | 3 2 1 0 0]
  EXPECT_EQ(Indices(-5, 9, 4, PaddingMode::kReflect),
            std::vector<Index>({3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0}));
}

TEST(Padding, EdgeAndConstant) {
  EXPECT_EQ(Indices(-2, 5, 3, PaddingMode::kEdge), std::vector<Index>({0, 0, 0, 1, 2, 2, 2}));
  EXPECT_EQ(Indices(-1, 4, 3, PaddingMode::kConstant), std::vector<Index>({-1, 0, 1, 2, -1}));
}

Array Ramp(Shape shape) {
  Array a(DataType::kInt32, shape);
  for (Index i = 0; i < a.num_elements(); ++i) a.data_as<int32_t>()[i] = static_cast<int32_t>(i);
  return a;
}

// Pad through PaddingSource equals indexing the whole volume with PaddedSourceIndex.
TEST(Padding, PadMatchesPointwiseDefinition) {
  const Shape vol = {5, 7};
  Array whole = Ramp(vol);
  for (PaddingMode m : {PaddingMode::kReflect, PaddingMode::kEdge, PaddingMode::kConstant}) {
    for (Box want : {Box({-3, -9}, {6, 20}), Box({2, 3}, {2, 2}), Box({4, 6}, {8, 3}),
                     Box({-12, 0}, {3, 7})}) {
      Box src = PaddingSource(want, vol, m);
      Array part = whole.Slice(src);
      Array got = Pad(part, src, want, vol, Padding{m, -1});
      ASSERT_EQ(got.shape(), want.shape);
      for (Index y = 0; y < want.shape[0]; ++y) {
        for (Index x = 0; x < want.shape[1]; ++x) {
          const Index sy = PaddedSourceIndex(want.begin[0] + y, vol[0], m);
          const Index sx = PaddedSourceIndex(want.begin[1] + x, vol[1], m);
          const int32_t expect = (sy < 0 || sx < 0) ? -1 : static_cast<int32_t>(sy * vol[1] + sx);
          ASSERT_EQ(got.data_as<int32_t>()[y * want.shape[1] + x], expect)
              << PaddingModeName(m) << " " << want.ToString() << " at " << y << "," << x;
        }
      }
    }
  }
}

TEST(Padding, LeadingChannelAxisIsCopiedWhole) {
  Array whole = Ramp({2, 4});  // 2 channels, 4 voxels
  Box want({-1}, {6});
  Box src = PaddingSource(want, {4}, PaddingMode::kEdge);
  Array got = Pad(whole.Slice(Box({0, src.begin[0]}, {2, src.shape[0]})), src, want, {4},
                  Padding{PaddingMode::kEdge, 0});
  std::vector<int32_t> v(got.data_as<int32_t>(), got.data_as<int32_t>() + 12);
  EXPECT_EQ(v, std::vector<int32_t>({0, 0, 1, 2, 3, 3, 4, 4, 5, 6, 7, 7}));
}

// PadInPlace (source read into the box, the border filled from it) equals Pad, in 3-D with a
// channel axis, for every mode; a source reaching outside the box is refused untouched.
TEST(Padding, InPlaceEqualsPad) {
  const Shape vol = {6, 7, 9};
  Array whole = Ramp({2, 6, 7, 9});
  int checked = 0;
  for (PaddingMode m : {PaddingMode::kReflect, PaddingMode::kEdge, PaddingMode::kConstant}) {
    for (Box want : {Box({-3, -2, -4}, {9, 11, 17}), Box({1, 2, 3}, {4, 4, 4}),
                     Box({3, -1, 5}, {5, 5, 8}), Box({-4, 0, 0}, {3, 7, 9})}) {
      const Box src = PaddingSource(want, vol, m);
      Box full_src = src, full_want = want;
      full_src.begin.insert(full_src.begin.begin(), 0);
      full_src.shape.insert(full_src.shape.begin(), 2);
      full_want.begin.insert(full_want.begin.begin(), 0);
      full_want.shape.insert(full_want.shape.begin(), 2);
      const Array expect = Pad(whole.Slice(full_src), src, want, vol, Padding{m, -7});
      Array a = Array::Filled(DataType::kInt32, full_want.shape,
                              std::as_bytes(std::span<const int32_t>({int32_t{12345}})));
      const bool inside = src.empty() || Intersect(src, want) == src;
      if (!src.empty() && inside) {
        Box rel = src.Relative(want.begin);
        CopyRegion(whole, full_src.begin, a, {0, rel.begin[0], rel.begin[1], rel.begin[2]},
                   full_src.shape);
      }
      const Array before = a;
      ASSERT_EQ(PadInPlace(a, want, src, vol, Padding{m, -7}), inside) << want.ToString();
      if (inside) {
        EXPECT_TRUE(a == expect) << PaddingModeName(m) << " " << want.ToString();
        ++checked;
      } else {
        EXPECT_TRUE(a == before);
      }
    }
  }
  EXPECT_GE(checked, 9);
}

}  // namespace
}  // namespace volbatch
