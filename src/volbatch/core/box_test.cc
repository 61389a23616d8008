#include "volbatch/core/box.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(Box, IntersectAndContains) {
  Box a({0, 0, 0}, {10, 10, 10});
  Box b({5, -3, 8}, {10, 5, 10});
  Box i = Intersect(a, b);
  EXPECT_EQ(i, Box({5, 0, 8}, {5, 2, 2}));
  EXPECT_TRUE(a.Contains(i));
  EXPECT_FALSE(a.Contains(b));
  EXPECT_TRUE(Intersect(a, Box({20, 0, 0}, {1, 1, 1})).empty());
  EXPECT_EQ(a.ToString(), "[0:10, 0:10, 0:10]");
}

TEST(Box, GrowTranslateRelative) {
  Box a({4, 4}, {2, 3});
  EXPECT_EQ(a.Grow({1, 2}), Box({3, 2}, {4, 7}));
  EXPECT_EQ(a.Translate({1, -1}), Box({5, 3}, {2, 3}));
  EXPECT_EQ(a.Relative({4, 4}), Box({0, 0}, {2, 3}));
}

TEST(Box, GridCellsCoverRegionInCOrder) {
  auto cells = GridCells(Box({3, 0}, {5, 5}), {4, 4});
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0], (Shape{0, 0}));
  EXPECT_EQ(cells[1], (Shape{0, 1}));
  EXPECT_EQ(cells[2], (Shape{1, 0}));
  EXPECT_EQ(cells[3], (Shape{1, 1}));
  EXPECT_TRUE(GridCells(Box({0}, {0}), {4}).empty());
}

TEST(Box, NumElementsOverflowIsAnError) {
  EXPECT_EQ(NumElements({2, 3, 4}), 24);
  EXPECT_THROW(NumElements({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(NumElements({-1, 2}), Error);
  EXPECT_THROW(CheckRank(33, "shape"), Error);
  EXPECT_NO_THROW(CheckRank(32, "shape"));
}

}  // namespace
}  // namespace volbatch
