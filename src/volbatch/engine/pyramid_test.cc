// Pyramid geometry: which axes each level halves (anisotropy), and how levels are named.
#include "volbatch/engine/pyramid.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

TEST(Pyramid, IsotropicVolumesHalveEveryAxis) {
  EXPECT_EQ(PyramidFactors({64, 64, 64}, {1, 1, 1}, 3),
            (std::vector<Shape>{{2, 2, 2}, {2, 2, 2}, {2, 2, 2}}));
}

TEST(Pyramid, ZWaitsUntilItIsNoCoarserThanXY) {
  // 40 x 4 x 4 nm: x/y halve until they reach 32 nm, then 64 nm (coarser than z) while z
  // stays; then z, the finest, halves to 80 while x/y wait; then x/y again.
  EXPECT_EQ(PyramidFactors({512, 4096, 4096}, {40, 4, 4}, 6),
            (std::vector<Shape>{{1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {2, 1, 1}, {1, 2, 2}}));
  // Equal within 1%: halved together.
  EXPECT_EQ(PyramidFactors({64, 64}, {4.02, 4.0}, 1), (std::vector<Shape>{{2, 2}}));
}

TEST(Pyramid, AxesOfLengthOneStay) {
  EXPECT_EQ(PyramidFactors({3, 8, 8}, {1, 1, 1}, 3),
            (std::vector<Shape>{{2, 2, 2}, {2, 2, 2}, {1, 2, 2}}));
  EXPECT_EQ(PyramidFactors({1, 1}, {1, 1}, 1), (std::vector<Shape>{{1, 1}}));
}

TEST(Pyramid, LevelNamesFollowTheDatasetsName) {
  EXPECT_EQ(PyramidLevelNames("s0", 2), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(PyramidLevelNames("s2", 1), (std::vector<std::string>{"s3"}));
  EXPECT_EQ(PyramidLevelNames("0", 3), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(PyramidLevelNames("raw", 2), (std::vector<std::string>{"raw_s1", "raw_s2"}));
}

}  // namespace
}  // namespace volbatch
