#include "volbatch/store/zarr2_dtype.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

TEST(Zarr2DType, ParsesEveryType) {
  struct Case {
    const char* s;
    DataType t;
    bool big;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"|b1", DataType::kBool, false},
           {"|i1", DataType::kInt8, false},
           {"|u1", DataType::kUint8, false},
           {"<u1", DataType::kUint8, false},
           {">u1", DataType::kUint8, false},
           {"<i2", DataType::kInt16, false},
           {">i2", DataType::kInt16, true},
           {"<i4", DataType::kInt32, false},
           {">i8", DataType::kInt64, true},
           {"<u2", DataType::kUint16, false},
           {">u4", DataType::kUint32, true},
           {"<u8", DataType::kUint64, false},
           {"<f2", DataType::kFloat16, false},
           {">f2", DataType::kFloat16, true},
           {"<f4", DataType::kFloat32, false},
           {">f8", DataType::kFloat64, true},
       }) {
    const Zarr2DType t = ParseZarr2DType(c.s, "dtype");
    EXPECT_EQ(t.dtype, c.t) << c.s;
    EXPECT_EQ(t.big_endian, c.big) << c.s;
  }
}

TEST(Zarr2DType, WritesNumpyStrings) {
  EXPECT_EQ(Zarr2DTypeString({DataType::kBool, false}), "|b1");
  EXPECT_EQ(Zarr2DTypeString({DataType::kUint8, true}), "|u1");
  EXPECT_EQ(Zarr2DTypeString({DataType::kInt16, false}), "<i2");
  EXPECT_EQ(Zarr2DTypeString({DataType::kUint64, true}), ">u8");
  EXPECT_EQ(Zarr2DTypeString({DataType::kFloat16, false}), "<f2");
  EXPECT_EQ(Zarr2DTypeString({DataType::kFloat64, true}), ">f8");
  for (int i = 0; i <= static_cast<int>(DataType::kFloat64); ++i) {
    for (bool big : {false, true}) {
      const Zarr2DType t{static_cast<DataType>(i), big && ByteSize(static_cast<DataType>(i)) > 1};
      EXPECT_EQ(ParseZarr2DType(Zarr2DTypeString(t), "dtype"), t);
    }
  }
}

void ExpectError(const char* s, ErrorCode code) {
  try {
    ParseZarr2DType(s, "\"dtype\" in a/.zarray");
    ADD_FAILURE() << s << " parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << s << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a/.zarray"), std::string::npos) << e.what();
  }
}

TEST(Zarr2DType, RejectsWithTheString) {
  ExpectError("<c8", ErrorCode::kUnsupported);
  ExpectError("<U10", ErrorCode::kUnsupported);
  ExpectError("|S5", ErrorCode::kUnsupported);
  ExpectError("<M8[ns]", ErrorCode::kUnsupported);
  ExpectError("<f16", ErrorCode::kUnsupported);
  ExpectError("<i3", ErrorCode::kUnsupported);
  ExpectError("<i99999999999999999999", ErrorCode::kUnsupported);
  ExpectError("|i2", ErrorCode::kInvalidArgument);
  ExpectError("uint8", ErrorCode::kInvalidArgument);
  ExpectError("<i", ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace volbatch
