#include "volbatch/cli/parse.h"

#include <gtest/gtest.h>

#include "volbatch/cli/transfer.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(Parse, ShapeList) {
  EXPECT_EQ(ParseShapeList("64,128,128", "--chunks"), (Shape{64, 128, 128}));
  EXPECT_EQ(ParseShapeList("7", "--chunks"), (Shape{7}));
  for (const char* bad : {"", "1,,2", "1,x", "0,4", "-1", "1.5"}) {
    try {
      ParseShapeList(bad, "--chunks");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--chunks"), std::string::npos);
    }
  }
}

TEST(Parse, DoubleList) {
  EXPECT_EQ(ParseDoubleList("40,4,4.5", "--voxel-size"), (std::vector<double>{40, 4, 4.5}));
  for (const char* bad : {"", "1,,2", "1,x", "0,1", "-1", "nan", "inf", "1e999", "2 "}) {
    try {
      ParseDoubleList(bad, "--voxel-size");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--voxel-size"), std::string::npos) << bad;
    }
  }
}

TEST(Parse, RoiLikeNumpy) {
  Shape s{10, 20, 30};
  EXPECT_EQ(ParseRoi("0:5,:,-10:", s, "--roi"), Box({0, 0, 20}, {5, 20, 10}));
  EXPECT_EQ(ParseRoi("3,5:6,", s, "--roi"), Box({3, 5, 0}, {1, 1, 30}));
  EXPECT_THROW(ParseRoi("0:11,:,:", s, "--roi"), Error);
  EXPECT_THROW(ParseRoi("5:5,:,:", s, "--roi"), Error);
  EXPECT_THROW(ParseRoi(":,:", s, "--roi"), Error);
}

TEST(Transfer, DefaultChunksAreAboutAMebibyte) {
  EXPECT_EQ(DefaultChunks({256, 512, 512}, DataType::kUint8), (Shape{64, 128, 128}));
  EXPECT_EQ(DefaultChunks({10, 10}, DataType::kFloat64), (Shape{10, 10}));
  EXPECT_EQ(DefaultChunks({0, 5}, DataType::kUint8), (Shape{1, 5}));
}

}  // namespace
}  // namespace volbatch
