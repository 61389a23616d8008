#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::CodeOf;

Array Iota(DataType dt, Shape shape) {
  Array a(dt, shape);
  VisitDataType(dt, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_arithmetic_v<T>) {
      T* p = a.data_as<T>();
      for (Index i = 0; i < a.num_elements(); ++i) p[i] = static_cast<T>(i);
    }
    return 0;
  });
  return a;
}

TEST(Transpose, EncodesPermutedAxes) {
  auto codec = MakeArrayCodec("transpose", {{"order", {2, 0, 1}}});
  const Array a = Iota(DataType::kUint16, {2, 3, 4});
  const Array e = codec->Encode(a);
  EXPECT_EQ(e.shape(), (Shape{4, 2, 3}));
  // encoded[k][i][j] == decoded[i][j][k]
  const uint16_t* src = a.data_as<uint16_t>();
  const uint16_t* dst = e.data_as<uint16_t>();
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) EXPECT_EQ(dst[(k * 2 + i) * 3 + j], src[(i * 3 + j) * 4 + k]);
  ChunkSpec spec;
  spec.dtype = DataType::kUint16;
  spec.shape = {2, 3, 4};
  EXPECT_EQ(codec->EncodedSpec(spec).shape, (Shape{4, 2, 3}));
  EXPECT_EQ(codec->Decode(e, spec), a);
  EXPECT_EQ(codec->ToJson(),
            json({{"name", "transpose"}, {"configuration", {{"order", {2, 0, 1}}}}}));
}

TEST(Transpose, RoundTripsManyOrdersAndDtypes) {
  const std::vector<std::vector<int>> orders = {{0},       {1, 0},    {0, 1, 2},
                                                {2, 1, 0}, {1, 2, 0}, {3, 1, 0, 2}};
  for (const auto& order : orders) {
    Shape shape;
    for (size_t i = 0; i < order.size(); ++i) shape.push_back(static_cast<Index>(2 + i));
    for (DataType dt : {DataType::kUint8, DataType::kInt32, DataType::kFloat64}) {
      auto codec = MakeArrayCodec("transpose", {{"order", order}});
      const Array a = Iota(dt, shape);
      ChunkSpec spec;
      spec.dtype = dt;
      spec.shape = shape;
      EXPECT_EQ(codec->Decode(codec->Encode(a), spec), a) << json(order).dump();
    }
  }
}

TEST(Transpose, RejectsBadOrders) {
  for (const json& order : {json::array({0, 0}), json::array({1, 2}), json::array({-1, 0}),
                            json::array(), json("C"), json::array({0.5, 1}), json(nullptr)}) {
    std::string msg;
    EXPECT_EQ(CodeOf(
                  [&] {
                    MakeArrayCodec("transpose", {{"order", order}});
                  },
                  &msg),
              ErrorCode::kInvalidArgument)
        << order.dump();
    EXPECT_NE(msg.find("transpose.order"), std::string::npos) << msg;
  }
  EXPECT_EQ(CodeOf([&] { MakeArrayCodec("transpose", json::object()); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] {
              MakeArrayCodec("transpose", {{"order", {1, 0}}, {"x", 1}});
            }),
            ErrorCode::kInvalidArgument);
}

TEST(Transpose, RankMismatchIsInvalidArgument) {
  auto codec = MakeArrayCodec("transpose", {{"order", {1, 0}}});
  std::string msg;
  EXPECT_EQ(CodeOf(
                [&] {
                  codec->Encode(Iota(DataType::kUint8, {2, 3, 4}));
                },
                &msg),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("rank 3"), std::string::npos) << msg;
  ChunkSpec spec;
  spec.shape = {2, 3, 4};
  EXPECT_EQ(CodeOf([&] { codec->EncodedSpec(spec); }), ErrorCode::kInvalidArgument);
}

TEST(Transpose, DecodeOfTheWrongShapeIsDataLoss) {
  auto codec = MakeArrayCodec("transpose", {{"order", {1, 0}}});
  ChunkSpec spec;
  spec.shape = {2, 3};
  EXPECT_EQ(CodeOf([&] {
              codec->Decode(Iota(DataType::kUint8, {2, 3}), spec);
            }),
            ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace volbatch
