#include "volbatch/tile/window_sampler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

SampledSource Src(std::string name, Shape shape, Shape up, Shape down) {
  return SampledSource{std::move(name), std::move(shape), Scale{std::move(up), std::move(down)}};
}

SampledSource Src(std::string name, Shape shape) {
  const size_t r = shape.size();
  return Src(std::move(name), std::move(shape), Shape(r, 1), Shape(r, 1));
}

TEST(CounterRng, ReproducibleAndKeyed) {
  CounterRng a(7, 1, 2, 3), b(7, 1, 2, 3), c(7, 1, 2, 4), d(8, 1, 2, 3);
  for (int i = 0; i < 10; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
    EXPECT_NE(x, d.Next());
  }
}

TEST(CounterRng, UniformIsInRangeAndRoughlyFlat) {
  CounterRng r(1, 2);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t v = r.Uniform(7);
    ASSERT_LT(v, 7u);
    ++hist[v];
  }
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);
  for (int i = 0; i < 1000; ++i) {
    const double u = r.UniformReal();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_EQ(r.Uniform(1), 0u);
}

TEST(WindowSampler, ValidStartsAndUniformity) {
  WindowSampler s({Src("raw", {10, 20})}, {.window = {4, 8}});
  EXPECT_EQ(s.max_start(), Shape({6, 12}));
  EXPECT_EQ(s.num_positions(), 7 * 13);
  std::map<Shape, int> count;
  for (Index g = 0; g < 91000; ++g) {
    const Shape p = s.Position(g, 0);
    ASSERT_TRUE(Box::FromShape({10, 20}).Contains(s.SourceBox(0, p)));
    ++count[p];
  }
  EXPECT_EQ(count.size(), 91u);  // every position drawn
  for (const auto& [p, n] : count) EXPECT_NEAR(n, 1000, 150) << ShapeToString(p);
}

TEST(WindowSampler, AlignedSourcesAtDifferentScales) {
  // Reference: a high-res target 64 x 100; the input is at half resolution (32 x 50) and a
  // mask at twice the reference (128 x 200). Windows of 8 x 10 reference voxels.
  WindowSampler s({Src("target", {64, 100}), Src("input", {32, 50}, {1, 1}, {2, 2}),
                   Src("mask", {128, 200}, {2, 2}, {1, 1})},
                  {.window = {8, 10}});
  EXPECT_EQ(s.align(), Shape({2, 2}));
  EXPECT_EQ(s.SourceWindow(1), Shape({4, 5}));
  EXPECT_EQ(s.SourceWindow(2), Shape({16, 20}));
  for (Index g = 0; g < 2000; ++g) {
    const Shape p = s.Position(g, 0);
    ASSERT_EQ(p[0] % 2, 0);
    ASSERT_EQ(p[1] % 2, 0);
    const Box t = s.SourceBox(0, p), in = s.SourceBox(1, p), m = s.SourceBox(2, p);
    ASSERT_EQ(in.begin, Shape({p[0] / 2, p[1] / 2}));
    ASSERT_EQ(m.begin, Shape({p[0] * 2, p[1] * 2}));
    ASSERT_TRUE(Box::FromShape({64, 100}).Contains(t));
    ASSERT_TRUE(Box::FromShape({32, 50}).Contains(in));
    ASSERT_TRUE(Box::FromShape({128, 200}).Contains(m));
  }
  EXPECT_EQ(s.max_start(), Shape({56, 90}));
}

TEST(WindowSampler, SmallestSourceLimitsTheStarts) {
  // The input covers less than the target: windows stay inside both.
  WindowSampler s({Src("target", {64, 100}), Src("input", {30, 45}, {1, 1}, {2, 2})},
                  {.window = {8, 10}});
  EXPECT_EQ(s.max_start(), Shape({52, 80}));  // (30 - 4) * 2, (45 - 5) * 2
  EXPECT_EQ(s.Reachable(), Box({0, 0}, {60, 90}));
  EXPECT_EQ(s.ReachableIn(1), Box({0, 0}, {30, 45}));
}

TEST(WindowSampler, Errors) {
  EXPECT_THROW(WindowSampler({Src("a", {4, 4})}, {.window = {8, 2}}), Error);  // too big
  EXPECT_THROW(WindowSampler({Src("a", {40, 40}, {1, 1}, {3, 1})}, {.window = {8, 8}}),
               Error);  // 8 not a multiple of 3
  EXPECT_THROW(WindowSampler({Src("a", {40, 40})}, {.window = {8, 4}, .rotate = true}), Error);
  EXPECT_THROW(WindowSampler({Src("a", {40, 40})}, {.window = {8, 8}, .flip = {true}}), Error);
  EXPECT_THROW(WindowSampler({Src("a", {40, 40, 4})}, {.window = {8, 8}}), Error);
  EXPECT_THROW(WindowSampler({}, {.window = {8, 8}}), Error);
  try {
    WindowSampler({Src("lowres", {40, 40}, {1, 1}, {3, 1})}, {.window = {8, 8}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lowres"), std::string::npos) << e.what();
  }
}

TEST(WindowSampler, StreamsPartitionTheGlobalIndices) {
  WindowSampler s({Src("a", {100, 100})}, {.window = {10, 10}});
  std::set<Index> seen;
  for (Index w = 0; w < 3; ++w) {
    s.SetStream(w, 3);
    for (Index k = 0; k < 10; ++k) EXPECT_TRUE(seen.insert(s.GlobalIndex(k)).second);
  }
  EXPECT_EQ(*seen.rbegin(), 29);
  EXPECT_EQ(seen.size(), 30u);
  s.SetStream(1, 2, 100);
  EXPECT_EQ(s.GlobalIndex(3), 107);
  EXPECT_THROW(s.SetStream(2, 2), Error);
  // Blocks (batches) of 4: worker 1 of 2 takes 4..7, 12..15, ...
  s.SetStream(1, 2, 0, 4);
  std::vector<Index> got;
  for (Index k = 0; k < 8; ++k) got.push_back(s.GlobalIndex(k));
  EXPECT_EQ(got, std::vector<Index>({4, 5, 6, 7, 12, 13, 14, 15}));
  std::set<Index> all;
  for (Index w = 0; w < 3; ++w) {
    s.SetStream(w, 3, 10, 5);
    for (Index k = 0; k < 20; ++k) EXPECT_TRUE(all.insert(s.GlobalIndex(k)).second);
  }
  EXPECT_EQ(*all.begin(), 10);
  EXPECT_EQ(*all.rbegin(), 69);
}

TEST(WindowSampler, DeterministicFromSeed) {
  WindowSampler a({Src("a", {100, 100})}, {.window = {10, 10}, .seed = 5});
  WindowSampler b({Src("a", {100, 100})}, {.window = {10, 10}, .seed = 5});
  WindowSampler c({Src("a", {100, 100})}, {.window = {10, 10}, .seed = 6});
  int differ = 0;
  for (Index g = 0; g < 50; ++g) {
    EXPECT_EQ(a.Position(g, 0), b.Position(g, 0));
    differ += a.Position(g, 0) != c.Position(g, 0);
    EXPECT_NE(a.Position(g, 0), a.Position(g, 1)) << "attempts draw afresh";
  }
  EXPECT_GT(differ, 45);
}

TEST(WindowSampler, PositionContainingCentresAndClamps) {
  WindowSampler s({Src("a", {100, 50})}, {.window = {10, 10}});
  EXPECT_EQ(s.PositionContaining({50, 25}), Shape({45, 20}));  // voxel at window / 2
  EXPECT_EQ(s.PositionContaining({2, 49}), Shape({0, 40}));    // clamped at the edges
  EXPECT_THROW(s.PositionContaining({100, 0}), Error);
  // With alignment 2, every reachable voxel lies in its window.
  WindowSampler t({Src("a", {101, 51}), Src("b", {50, 25}, {1, 1}, {2, 2})}, {.window = {10, 10}});
  const Box r = t.Reachable();
  for (Index z = 0; z < r.shape[0]; ++z) {
    for (Index y = 0; y < r.shape[1]; ++y) {
      const Shape p = t.PositionContaining({z, y});
      ASSERT_TRUE(Box(p, {10, 10}).Contains(Box({z, y}, {1, 1}))) << z << "," << y;
      ASSERT_EQ(p[0] % 2, 0);
      ASSERT_LE(p[0], t.max_start()[0]);
    }
  }
}

TEST(WindowSampler, AugmentationDraws) {
  WindowSampler none({Src("a", {100, 100, 100})}, {.window = {10, 10, 10}});
  WindowSampler all({Src("a", {100, 100, 100})}, {.window = {10, 10, 10},
                                                  .flip = {false, true, true},
                                                  .rotate = true,
                                                  .gain_jitter = 0.2,
                                                  .offset_jitter = 0.1});
  int flips = 0, rot[4] = {0, 0, 0, 0};
  for (Index g = 0; g < 4000; ++g) {
    const Augmentation n = none.DrawAugmentation(g);
    EXPECT_TRUE(n.IsIdentityGeometry());
    EXPECT_EQ(n.gain, 1.0);
    EXPECT_EQ(n.offset, 0.0);
    const Augmentation a = all.DrawAugmentation(g);
    EXPECT_FALSE(a.flip[0]);
    flips += a.flip[1];
    ++rot[a.rot90];
    EXPECT_GE(a.gain, 0.8);
    EXPECT_LE(a.gain, 1.2);
    EXPECT_LE(std::abs(a.offset), 0.1);
  }
  EXPECT_NEAR(flips, 2000, 200);
  for (int k : rot) EXPECT_NEAR(k, 1000, 150);
}

}  // namespace
}  // namespace volbatch
