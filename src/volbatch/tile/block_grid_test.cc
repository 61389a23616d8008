#include "volbatch/tile/block_grid.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(BlockGrid, CoversTheVolumeOnceWithClippedEdges) {
  BlockGrid g({100, 70}, {32, 64}, {16, 32});
  EXPECT_EQ(g.counts(), Shape({4, 2}));
  EXPECT_EQ(g.BlockBox(7), Box({96, 64}, {4, 6}));
  Index covered = 0;
  for (Index b = 0; b < g.num_blocks(); ++b) covered += g.BlockBox(b).num_elements();
  EXPECT_EQ(covered, 7000);
}

TEST(BlockGrid, BlockMustBeMultipleOfChunks) {
  try {
    BlockGrid({100}, {48}, {32});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[tiling] block"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("multiple"), std::string::npos);
  }
}

}  // namespace
}  // namespace volbatch
