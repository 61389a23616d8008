#include "volbatch/store/zarr2_filters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;

template <typename T>
Bytes ToBytes(std::initializer_list<T> values, bool big = false) {
  Bytes b(values.size() * sizeof(T));
  std::memcpy(b.data(), values.begin(), b.size());
  if (big) SwapBytes(b, sizeof(T));
  return b;
}

TEST(Zarr2Filters, HalfConversions) {
  EXPECT_EQ(DoubleToHalf(1.0), 0x3c00);
  EXPECT_EQ(DoubleToHalf(-2.0), 0xc000);
  EXPECT_EQ(DoubleToHalf(0.1), 0x2e66);
  EXPECT_EQ(DoubleToHalf(65504.0), 0x7bff);
  EXPECT_EQ(DoubleToHalf(65519.0), 0x7bff);
  EXPECT_EQ(DoubleToHalf(65520.0), 0x7c00);  // ties to even: overflows
  EXPECT_EQ(DoubleToHalf(0x1p-24), 0x0001);
  EXPECT_EQ(DoubleToHalf(0x1p-25), 0x0000);            // tie to even
  EXPECT_EQ(DoubleToHalf(3 * 0x1p-25), 0x0002);        // tie to even
  EXPECT_EQ(DoubleToHalf(0x1p-14 - 0x1p-26), 0x0400);  // rounds up into the normals
  EXPECT_EQ(DoubleToHalf(1.0 + 0x1p-11), 0x3c00);      // tie to even
  EXPECT_EQ(DoubleToHalf(1.0 + 3 * 0x1p-11), 0x3c02);  // tie to even
  EXPECT_EQ(DoubleToHalf(-0.0), 0x8000);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::infinity()), 0x7c00);
  EXPECT_EQ(DoubleToHalf(-std::numeric_limits<double>::infinity()), 0xfc00);
  EXPECT_EQ(DoubleToHalf(std::numeric_limits<double>::quiet_NaN()) & 0x7e00, 0x7e00);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const double d = HalfToDouble(static_cast<uint16_t>(h));
    if (std::isnan(d)) {
      EXPECT_EQ(h & 0x7c00, 0x7c00u);
      continue;
    }
    ASSERT_EQ(DoubleToHalf(d), h) << std::hex << h;
  }
}

TEST(Zarr2Filters, DeltaMatchesNumcodecs) {
  // numcodecs.Delta(dtype="<i4", astype="<i2").encode(np.array([10, 12, 11, 11, 20, 5], "<i4"))
  auto f = MakeZarr2Filter({{"id", "delta"}, {"dtype", "<i4"}, {"astype", "<i2"}}, "filters[0]");
  const Bytes decoded = ToBytes<int32_t>({10, 12, 11, 11, 20, 5});
  const Bytes encoded = ToBytes<int16_t>({10, 2, -1, 0, 9, -15});
  EXPECT_EQ(f->Encode(decoded, 6), encoded);
  EXPECT_EQ(f->Decode(encoded, 6), decoded);
  EXPECT_EQ(f->encoded_type(), (Zarr2DType{DataType::kInt16, false}));
  EXPECT_EQ(f->decoded_type(), (Zarr2DType{DataType::kInt32, false}));
  EXPECT_EQ(f->ToJson(), json({{"id", "delta"}, {"dtype", "<i4"}, {"astype", "<i2"}}));
}

TEST(Zarr2Filters, DeltaWrapsAndSwaps) {
  // Unsigned differences wrap: 3 - 250 = 9 (mod 256).
  auto u8 = MakeZarr2Filter({{"id", "delta"}, {"dtype", "|u1"}}, "f");
  EXPECT_EQ(u8->Encode(ToBytes<uint8_t>({250, 3, 1}), 3), ToBytes<uint8_t>({250, 9, 254}));
  EXPECT_EQ(u8->Decode(ToBytes<uint8_t>({250, 9, 254}), 3), ToBytes<uint8_t>({250, 3, 1}));
  // Big-endian on both sides.
  auto big = MakeZarr2Filter({{"id", "delta"}, {"dtype", ">u2"}, {"astype", ">i4"}}, "f");
  const Bytes dec = ToBytes<uint16_t>({1000, 999, 65535}, true);
  const Bytes enc = ToBytes<int32_t>({1000, 65535, 64536}, true);  // diffs wrap in uint16
  EXPECT_EQ(big->Encode(dec, 3), enc);
  EXPECT_EQ(big->Decode(enc, 3), dec);
  // Floats accumulate in the decoded type.
  auto f4 = MakeZarr2Filter({{"id", "delta"}, {"dtype", "<f4"}}, "f");
  const Bytes fdec = ToBytes<float>({1.5f, -0.25f, 1e30f, 1.0f});
  EXPECT_EQ(f4->Decode(f4->Encode(fdec, 4), 4), ToBytes<float>({1.5f, -0.25f, 1e30f, 0.0f}));
}

TEST(Zarr2Filters, AsType) {
  auto f =
      MakeZarr2Filter({{"id", "astype"}, {"encode_dtype", "<f4"}, {"decode_dtype", "<f8"}}, "f");
  const Bytes enc = ToBytes<float>({1.5f, -2.25f, std::numeric_limits<float>::infinity()});
  const Bytes dec = ToBytes<double>({1.5, -2.25, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(f->Decode(enc, 3), dec);
  EXPECT_EQ(f->Encode(dec, 3), enc);
  auto to_int =
      MakeZarr2Filter({{"id", "astype"}, {"encode_dtype", "|u1"}, {"decode_dtype", "<f8"}}, "f");
  EXPECT_EQ(to_int->Encode(ToBytes<double>({2.9, -1.5, 255.0, 256.0}), 4),
            ToBytes<uint8_t>({2, 255, 255, 0}));  // truncation toward zero, then wrap
  auto to_half =
      MakeZarr2Filter({{"id", "astype"}, {"encode_dtype", ">f2"}, {"decode_dtype", "<i2"}}, "f");
  EXPECT_EQ(to_half->Encode(ToBytes<int16_t>({1, -2}), 2),
            ToBytes<uint16_t>({0x3c00, 0xc000}, true));
  EXPECT_EQ(to_half->Decode(ToBytes<uint16_t>({0x3c00, 0xc000}, true), 2),
            ToBytes<int16_t>({1, -2}));
}

TEST(Zarr2Filters, SizeMismatchIsDataLoss) {
  auto f = MakeZarr2Filter({{"id", "delta"}, {"dtype", "<i4"}}, "f");
  try {
    f->Decode(Bytes(7), 2);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
  }
}

TEST(Zarr2Filters, BadConfigurations) {
  auto expect = [](const json& config, ErrorCode code, const std::string& needle) {
    try {
      MakeZarr2Filter(config, "filters[0] in x/.zarray");
      ADD_FAILURE() << config.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("filters[0] in x/.zarray"), std::string::npos);
    }
  };
  expect({{"id", "delta"}}, ErrorCode::kInvalidArgument, "dtype");
  expect({{"id", "delta"}, {"dtype", "<c16"}}, ErrorCode::kUnsupported, "<c16");
  expect({{"id", "delta"}, {"dtype", "|b1"}}, ErrorCode::kUnsupported, "boolean");
  expect({{"id", "astype"}, {"encode_dtype", "<f4"}}, ErrorCode::kInvalidArgument, "decode_dtype");
  expect({{"id", "quantize"}}, ErrorCode::kInvalidArgument, "digits");
  expect({{"id", "fixedscaleoffset"}, {"offset", 0}, {"scale", 1}}, ErrorCode::kInvalidArgument,
         "\"dtype\"");
  expect({{"id", "bitround"}, {"keepbits", 60}}, ErrorCode::kInvalidArgument, "mantissa");
  expect({{"id", "categorize"}}, ErrorCode::kUnsupported,
         "filters[0] in x/.zarray: filter \"categorize\" is not supported (volbatch reads "
         "astype, bitround, delta, fixedscaleoffset, packbits, quantize)");
  expect({{"dtype", "<f4"}}, ErrorCode::kInvalidArgument, "id");
}

}  // namespace
}  // namespace volbatch
