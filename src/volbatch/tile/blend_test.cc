#include "volbatch/tile/blend.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(Blend, PositiveSymmetricAndPeakedInTheMiddle) {
  for (auto kind :
       {BlendKind::kConstant, BlendKind::kLinear, BlendKind::kGaussian, BlendKind::kBump}) {
    auto w = BlendWeights(kind, {9, 16}, {2, 4});
    ASSERT_EQ(w.size(), 144u);
    for (float v : w) ASSERT_GT(v, 0.f);
    for (Index y = 0; y < 9; ++y) {
      for (Index x = 0; x < 16; ++x) {
        ASSERT_FLOAT_EQ(w[y * 16 + x], w[(8 - y) * 16 + (15 - x)]) << BlendKindName(kind);
      }
    }
    EXPECT_GE(w[4 * 16 + 7], w[0]) << BlendKindName(kind);
  }
}

TEST(Blend, LinearRampsOverTheOverlap) {
  auto w = BlendWeights(BlendKind::kLinear, {8}, {3});
  EXPECT_FLOAT_EQ(w[0], 0.25f);
  EXPECT_FLOAT_EQ(w[1], 0.5f);
  EXPECT_FLOAT_EQ(w[3], 1.0f);
  EXPECT_FLOAT_EQ(w[7], 0.25f);
}

TEST(Blend, UnknownKindNamesTheField) {
  try {
    ParseBlendKind("cosine");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[tiling] blend"), std::string::npos);
  }
}

}  // namespace
}  // namespace volbatch
