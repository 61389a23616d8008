#include "volbatch/model/tta.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// Element (c, i0, i1, ...) of a row-major channels x `spatial` buffer.
size_t Offset(Index c, const Shape& idx, const Shape& spatial) {
  Index o = c;
  for (size_t a = 0; a < spatial.size(); ++a) o = o * spatial[a] + idx[a];
  return static_cast<size_t>(o);
}

// The flip by its definition: out[c, i] = in[c, i with i[a] -> n[a] - 1 - i[a] for a in flip].
std::vector<float> FlipByIndex(const std::vector<float>& in, Index channels, const Shape& spatial,
                               const Flip& flip) {
  std::vector<float> out(in.size());
  const Index vox = NumElements(spatial, "spatial");
  for (Index c = 0; c < channels; ++c) {
    for (Index v = 0; v < vox; ++v) {
      Shape idx(spatial.size()), src(spatial.size());
      Index rest = v;
      for (size_t a = spatial.size(); a-- > 0;) {
        idx[a] = rest % spatial[a];
        rest /= spatial[a];
      }
      src = idx;
      for (size_t a : flip) src[a] = spatial[a] - 1 - idx[a];
      out[Offset(c, idx, spatial)] = in[Offset(c, src, spatial)];
    }
  }
  return out;
}

TEST(Tta, FlipsAreEverySubsetInAFixedOrder) {
  EXPECT_EQ(Flips({}), (std::vector<Flip>{{}}));
  EXPECT_EQ(Flips({1, 2}), (std::vector<Flip>{{}, {1}, {2}, {1, 2}}));
  const std::vector<Flip> all = Flips({0, 1, 2});
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[0], Flip{});
  EXPECT_EQ(all[5], (Flip{0, 2}));
  EXPECT_EQ(all[7], (Flip{0, 1, 2}));
}

TEST(Tta, FlipInPlaceMatchesTheDefinitionAndIsItsOwnInverse) {
  // Odd and even lengths, two channels, every flip of (z, y, x).
  const Shape spatial{3, 4, 5};
  const Index channels = 2;
  std::vector<float> x(static_cast<size_t>(channels * 60));
  std::iota(x.begin(), x.end(), 0.5f);
  for (const Flip& f : Flips({0, 1, 2})) {
    std::vector<float> y = x;
    FlipInPlace(y.data(), channels, spatial, f);
    EXPECT_EQ(y, FlipByIndex(x, channels, spatial, f)) << "flip of " << f.size() << " axes";
    FlipInPlace(y.data(), channels, spatial, f);
    EXPECT_EQ(y, x);
  }
}

TEST(Tta, FlipInPlaceOnATwoDimensionalWindow) {
  // [[0, 1, 2], [3, 4, 5]] flipped along x: [[2, 1, 0], [5, 4, 3]]; along y: [[3, 4, 5], ...].
  std::vector<float> y = {0, 1, 2, 3, 4, 5};
  FlipInPlace(y.data(), 1, {2, 3}, {1});
  EXPECT_EQ(y, (std::vector<float>{2, 1, 0, 5, 4, 3}));
  FlipInPlace(y.data(), 1, {2, 3}, {0});
  EXPECT_EQ(y, (std::vector<float>{5, 4, 3, 2, 1, 0}));
  EXPECT_THROW(FlipInPlace(y.data(), 1, {2, 3}, {2}), Error);
}

TEST(Tta, MeanSumsInDoubleInOrder) {
  // In float, 1e8 + 1 - 1e8 is 0; in double it is 1, and the mean is float(1 / 3).
  const std::vector<float> a = {1e8f, 2.f}, b = {1.f, 4.f}, c = {-1e8f, 6.f};
  const std::vector<float> m = MeanOf({a, b, c});
  EXPECT_EQ(m, (std::vector<float>{static_cast<float>(1.0 / 3.0), 4.f}));
  EXPECT_EQ(MeanOf({b}), b);
  const std::vector<float> short_one = {1.f};
  EXPECT_THROW(MeanOf({a, short_one}), Error);
}

}  // namespace
}  // namespace volbatch
