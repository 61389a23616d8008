#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/ops/op_test_util.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

constexpr auto Make = op_test::Make<RegisterUpsampleOperator>;
constexpr auto ExpectInvalid = op_test::ExpectInvalid<RegisterUpsampleOperator>;

// The window the engine hands the op: the output box mapped to input space, grown by the
// context.
WindowInfo Window(const Operator& op, const Box& out, const Shape& vol) {
  return {out, op.GetScale().InputBox(out).Grow(op.Context()), vol};
}

// The window input over `box` of a volume of shape `vol`, edge-padded (the engine's "reflect"
// padding gives the same values one voxel out); channel c adds 1000 c.
template <typename T, typename Fn>
Array Input(const Box& box, const Shape& vol, DataType dtype, Fn value, Index channels = 0) {
  auto clamp = [](Index i, Index n) { return std::clamp<Index>(i, 0, n - 1); };
  return op_test::FillBox<T>(box, dtype, channels, [&](Index c, Index z, Index y, Index x) {
    return static_cast<T>(value(clamp(z, vol[0]), clamp(y, vol[1]), clamp(x, vol[2])) + 1000 * c);
  });
}

TEST(Upsample, NearestRepeatsVoxelsPerChannel) {
  auto op = Make({{"type", "upsample"}, {"factor", {1, 2, 3}}});
  EXPECT_EQ(op->GetScale(), (Scale{{1, 2, 3}, {1, 1, 1}}));
  EXPECT_EQ(op->Context(), (Shape{0, 0, 0}));
  EXPECT_EQ(op->ComputeDType(DataType::kInt32), DataType::kInt32);
  // N = np.arange(24, dtype=np.int32).reshape(2, 3, 4) * 10 - 50
  auto n = [](Index z, Index y, Index x) -> Index { return (z * 12 + y * 4 + x) * 10 - 50; };
  const Shape vol{2, 3, 4};
  const Box out({1, 1, 2}, {1, 4, 7});
  const WindowInfo info = Window(*op, out, vol);
  ASSERT_EQ(info.input, Box({1, 0, 0}, {1, 3, 3}));
  Array r = op->Compute(Input<int32_t>(info.input, vol, DataType::kInt32, n, 2), info);
  ASSERT_EQ(r.dtype(), DataType::kInt32);
  ASSERT_EQ(r.shape(), (Shape{2, 1, 4, 7}));
  // N.repeat(1, 0).repeat(2, 1).repeat(3, 2)[1:2, 1:5, 2:9]
  const int32_t expect[4][7] = {{70, 80, 80, 80, 90, 90, 90},
                                {110, 120, 120, 120, 130, 130, 130},
                                {110, 120, 120, 120, 130, 130, 130},
                                {150, 160, 160, 160, 170, 170, 170}};
  const int32_t* p = r.data_as<int32_t>();
  for (Index c = 0; c < 2; ++c) {
    for (Index y = 0; y < 4; ++y) {
      for (Index x = 0; x < 7; ++x) EXPECT_EQ(*p++, expect[y][x] + 1000 * c) << c << y << x;
    }
  }
}

// X = np.fromfunction(lambda z,y,x: (z*5 + y*y*3 + x*x) % 11, (2,3,4)).astype(np.float32)
Index LinearVolume(Index z, Index y, Index x) { return (z * 5 + y * y * 3 + x * x) % 11; }
// ndi.zoom(X, (2, 1, 3), order=1, grid_mode=True, mode='nearest')[0:4, 1:3, 5:12].ravel()
const double kLinearExpect[56] = {5.0,        6.0,        7.0,  5.0,        3.0,        1.0,  1.0,
                                  3.0,        4.0,        5.0,  6.66666651, 8.33333302, 10.0, 10.0,
                                  5.33333349, 5.41666651, 5.5,  4.41666651, 3.33333325, 2.25, 2.25,
                                  4.25,       5.25,       6.25, 7.0,        7.75,       8.5,  8.5,
                                  6.0,        4.25,       2.5,  3.25,       4.0,        4.75, 4.75,
                                  6.75,       7.75,       8.75, 7.66666651, 6.58333349, 5.5,  5.5,
                                  6.33333349, 3.66666675, 1.0,  2.66666675, 4.33333349, 6.0,  6.0,
                                  8.0,        9.0,        10.0, 8.0,        6.0,        4.0,  4.0};

TEST(Upsample, LinearMatchesScipyZoomGridMode) {
  auto op = Make({{"type", "upsample"}, {"factor", {2, 1, 3}}, {"method", "linear"}});
  EXPECT_EQ(op->Context(), (Shape{1, 0, 1}));  // a neighbour only where an axis interpolates
  EXPECT_EQ(op->ComputeDType(DataType::kUint8), DataType::kFloat32);
  const Shape vol{2, 3, 4};
  // Touches both z borders and the far x border.
  const Box out({0, 1, 5}, {4, 2, 7});
  const WindowInfo info = Window(*op, out, vol);
  ASSERT_EQ(info.input, Box({-1, 1, 0}, {4, 2, 5}));
  for (DataType t : {DataType::kUint8, DataType::kFloat32}) {
    Array in = t == DataType::kUint8 ? Input<uint8_t>(info.input, vol, t, LinearVolume)
                                     : Input<float>(info.input, vol, t, LinearVolume);
    Array r = op->Compute(in, info);
    ASSERT_EQ(r.dtype(), DataType::kFloat32);
    ASSERT_EQ(r.shape(), (Shape{4, 2, 7}));
    // Tolerance: 1e-6 of the data range (10); scipy computes in float64.
    for (int i = 0; i < 56; ++i) EXPECT_NEAR(r.data_as<float>()[i], kLinearExpect[i], 1e-5) << i;
  }
}

TEST(Upsample, LinearIsTheSameInEveryWindow) {
  auto op = Make({{"type", "upsample"}, {"factor", 3}, {"method", "linear"}});
  const Shape vol{2, 3, 4};
  const Box whole({0, 0, 0}, {6, 9, 12}), part({2, 4, 7}, {3, 4, 5});
  const WindowInfo wi = Window(*op, whole, vol), pi = Window(*op, part, vol);
  Array rw = op->Compute(Input<double>(wi.input, vol, DataType::kFloat64, LinearVolume), wi);
  Array rp = op->Compute(Input<double>(pi.input, vol, DataType::kFloat64, LinearVolume), pi);
  ASSERT_EQ(rw.dtype(), DataType::kFloat64);
  for (Index z = 0; z < 3; ++z) {
    for (Index y = 0; y < 4; ++y) {
      for (Index x = 0; x < 5; ++x) {
        EXPECT_EQ(rp.data_as<double>()[(z * 4 + y) * 5 + x],
                  rw.data_as<double>()[((z + 2) * 9 + y + 4) * 12 + x + 7]);
      }
    }
  }
}

TEST(Upsample, RejectsBadParameters) {
  ExpectInvalid({{"type", "upsample"}, {"factor", -2}}, "[operator] factor");
  ExpectInvalid({{"type", "upsample"}, {"factor", {2, 2, 2, 2}}}, "[operator] factor");
  ExpectInvalid({{"type", "upsample"}, {"factor", 2}, {"method", "cubic"}},
                "[operator] method: \"cubic\" is not an upsample method (nearest, linear)");
  ExpectInvalid({{"type", "upsample"}, {"factor", 2}, {"order", 1}}, "order");
  auto linear = Make({{"type", "upsample"}, {"factor", 2}, {"method", "linear"}});
  EXPECT_THROW(linear->CheckOutputDType(DataType::kFloat32, DataType::kBool), Error);
  EXPECT_EQ(linear->Parameters(),
            (nlohmann::json{{"type", "upsample"}, {"factor", {2, 2, 2}}, {"method", "linear"}}));
}

}  // namespace
}  // namespace volbatch
