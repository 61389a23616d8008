#include "volbatch/tile/lattice.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(Lattice, LastWindowShiftedToTheEdge) {
  Lattice l({100}, {32}, {8});  // step 24: starts 0, 24, 48, then 68 (shifted from 72)
  EXPECT_EQ(l.counts(), Shape({4}));
  EXPECT_EQ(l.Start(0, 0), 0);
  EXPECT_EQ(l.Start(0, 2), 48);
  EXPECT_EQ(l.Start(0, 3), 68);
  EXPECT_EQ(l.WindowBox({3}).end(0), 100);
}

TEST(Lattice, ExactFitHasNoShift) {
  Lattice l({96}, {32}, {0});
  EXPECT_EQ(l.counts(), Shape({3}));
  EXPECT_EQ(l.Start(0, 2), 64);
}

TEST(Lattice, VolumeSmallerThanWindow) {
  Lattice l({10, 50}, {32, 32}, {4, 4});
  EXPECT_EQ(l.counts(), Shape({1, 2}));
  EXPECT_EQ(l.WindowBox({0, 1}), Box({0, 18}, {32, 32}));
}

// Brute force: a window touches a region iff their boxes intersect.
TEST(Lattice, WindowsTouchingMatchesBruteForce) {
  for (Index n : {1, 7, 31, 64, 65, 100, 129}) {
    for (Index w : {4, 16, 32}) {
      for (Index o : {0, 1, 3}) {
        Lattice l({n}, {w}, {o});
        for (Index lo = 0; lo < n; lo += 3) {
          for (Index hi = lo + 1; hi <= n; hi += 5) {
            std::vector<Shape> expect;
            for (Index k = 0; k < l.counts()[0]; ++k) {
              Box b = l.WindowBox({k});
              if (!Intersect(b, Box({lo}, {hi - lo})).empty()) expect.push_back({k});
            }
            ASSERT_EQ(l.WindowsTouching(Box({lo}, {hi - lo})), expect)
                << "n=" << n << " w=" << w << " o=" << o << " [" << lo << "," << hi << ")";
          }
        }
      }
    }
  }
}

TEST(Lattice, EveryVoxelCoveredAndStartsIncrease) {
  for (Index n : {5, 33, 100, 257}) {
    for (Index align : {1, 2, 4}) {
      Lattice l({n}, {16}, {4}, {align});
      std::vector<int> cover(static_cast<size_t>(n), 0);
      Index prev = -1;
      for (Index k = 0; k < l.counts()[0]; ++k) {
        const Index s = l.Start(0, k);
        EXPECT_GT(s, prev);
        EXPECT_EQ(s % align, 0);
        prev = s;
        for (Index x = s; x < std::min(n, s + 16); ++x) cover[static_cast<size_t>(x)]++;
      }
      for (Index x = 0; x < n; ++x) ASSERT_GT(cover[static_cast<size_t>(x)], 0) << x;
    }
  }
}

TEST(Lattice, HullCoversTouchingWindows) {
  Lattice l({100, 100}, {32, 16}, {8, 0});
  Box region({30, 40}, {20, 20});
  Box hull = l.Hull(region);
  for (const auto& idx : l.WindowsTouching(region)) {
    EXPECT_TRUE(hull.Contains(l.WindowBox(idx))) << l.WindowBox(idx).ToString();
  }
  EXPECT_TRUE(hull.Contains(region));
}

TEST(Lattice, RejectsOverlapNotSmallerThanWindow) {
  try {
    Lattice({100}, {32}, {32});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overlap"), std::string::npos);
  }
}

TEST(Lattice, RejectsUnalignedWindow) { EXPECT_THROW(Lattice({100}, {33}, {0}, {2}), Error); }

}  // namespace
}  // namespace volbatch

namespace volbatch {
namespace {

// The count by brute force: every block's WindowsTouching.
Index WindowsComputedByBlocks(const Lattice& l, const Shape& block) {
  Index n = 0;
  const Shape& v = l.volume();
  for (Index z = 0; z < v[0]; z += block[0]) {
    for (Index y = 0; y < v[1]; y += block[1]) {
      Box b({z, y}, {std::min(block[0], v[0] - z), std::min(block[1], v[1] - y)});
      n += static_cast<Index>(l.WindowsTouching(b).size());
    }
  }
  return n;
}

TEST(Lattice, WindowsComputedCountsStraddlingWindowsOncePerBlock) {
  const Lattice l({256, 200}, {64, 64}, {16, 16});
  for (const Shape& block : {Shape{64, 64}, Shape{128, 128}, Shape{256, 64}, Shape{48, 100}}) {
    EXPECT_EQ(l.WindowsComputed(block), WindowsComputedByBlocks(l, block)) << ShapeToString(block);
  }
  // One block holding the volume runs each window once.
  EXPECT_EQ(l.WindowsComputed({256, 200}), l.num_windows());
  // Blocks on the lattice's windows (no overlap) run each window once too.
  const Lattice tiles({256, 256}, {64, 64}, {0, 0});
  EXPECT_EQ(tiles.WindowsComputed({128, 128}), tiles.num_windows());
  EXPECT_THROW(l.WindowsComputed({0, 64}), Error);
}

}  // namespace
}  // namespace volbatch
