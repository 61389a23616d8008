#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/ops/op_test_util.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

constexpr auto Make = op_test::Make<RegisterGaussianOperator>;
constexpr auto ExpectInvalid = op_test::ExpectInvalid<RegisterGaussianOperator>;

// The volume the scipy references below were computed on:
// V = np.fromfunction(lambda z,y,x: (z*z*7 + y*13 + x*x*x) % 256, (4,5,6)).astype(np.uint8)
uint8_t V(Index z, Index y, Index x) {
  return static_cast<uint8_t>((z * z * 7 + y * 13 + x * x * x) % 256);
}

// The engine's "reflect" padding (scipy "reflect", numpy "symmetric"), one bounce.
Index Reflect(Index i, Index n) { return i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i); }

// The window input for `box` of V grown by `margin`, padded as the engine does, as type T;
// channel 1 (if any) holds 255 - V.
template <typename T>
Array PaddedInput(const Box& box, const Shape& margin, DataType dtype, Index channels = 0) {
  return op_test::FillBox<T>(
      box.Grow(margin), dtype, channels, [](Index c, Index z, Index y, Index x) {
        const T v = static_cast<T>(V(Reflect(z, 4), Reflect(y, 5), Reflect(x, 6)));
        return c == 1 ? static_cast<T>(255 - v) : v;
      });
}

WindowInfo Window(const Box& out, const Shape& context) {
  return WindowInfo{out, out.Grow(context), Shape{4, 5, 6}};
}

TEST(Gaussian, ImpulseGivesTheScipyKernel) {
  auto op = Make({{"type", "gaussian"}, {"sigma", {1.0, 0.5, 0.0}}});
  EXPECT_EQ(op->Context(), (Shape{4, 2, 0}));  // int(4 * sigma + 0.5)
  const Box out({0, 0, 0}, {3, 3, 3});
  Array in(DataType::kFloat32, {11, 7, 3});
  in.data_as<float>()[5 * 21 + 3 * 3 + 1] = 1;
  Array r = op->Compute(in, {out, out.Grow({4, 2, 0}), {11, 7, 3}});
  ASSERT_EQ(r.dtype(), DataType::kFloat32);
  ASSERT_EQ(r.shape(), (Shape{3, 3, 3}));
  // v = np.zeros((11,7,3), np.float32); v[5,3,1] = 1
  // ndi.gaussian_filter(v, [1.0, 0.5, 0.0], output=np.float32)[4:7, 2:5, 1]
  const double expect[9] = {0.025758046656847,    0.19032765924930573, 0.025758046656847,
                            0.042467840015888214, 0.313797265291214,   0.042467840015888214,
                            0.025758046656847,    0.19032765924930573, 0.025758046656847};
  const float* p = r.data_as<float>();
  for (Index z = 0; z < 3; ++z) {
    for (Index y = 0; y < 3; ++y) {
      for (Index x = 0; x < 3; ++x) {
        const double want = x == 1 ? expect[z * 3 + y] : 0.0;  // sigma 0 on x: no spreading
        EXPECT_NEAR(p[(z * 3 + y) * 3 + x], want, 1e-7) << z << "," << y << "," << x;
      }
    }
  }
}

// ndi.gaussian_filter(V.astype(np.float64), [0.8, 1.2, 1.5], truncate=2, output=np.float64,
//                     mode='reflect')[1:3, 0:3, 2:6].ravel()
const double kRampExpect[24] = {
    37.703339215443194, 59.28250122332929, 85.21836105419425,  103.97677184822447,
    45.322302195127946, 66.90146420301406, 92.83732403387901,  111.59573482790921,
    57.20912306371278,  78.78828507159889, 104.72414490246385, 123.48255569649405,
    57.782294131222834, 79.36145613910892, 105.2973159699739,  124.0557267640041,
    65.40125711090758,  86.98041911879369, 112.91627894965865, 131.67468974368887,
    77.28807797949241,  98.86723998737853, 124.80309981824348, 143.5615106122737};

TEST(Gaussian, Uint8WithChannelsAtTheBorderMatchesScipy) {
  auto op = Make({{"type", "gaussian"}, {"sigma", {0.8, 1.2, 1.5}}, {"truncate", 2}});
  const Shape ctx{2, 2, 3};
  ASSERT_EQ(op->Context(), ctx);
  EXPECT_EQ(op->ComputeDType(DataType::kUint8), DataType::kFloat32);
  // A window touching the volume's y = 0 and x = 6 borders: the input is padded by reflection.
  const Box out({1, 0, 2}, {2, 3, 4});
  Array r = op->Compute(PaddedInput<uint8_t>(out, ctx, DataType::kUint8, 2), Window(out, ctx));
  ASSERT_EQ(r.shape(), (Shape{2, 2, 3, 4}));
  const float* p = r.data_as<float>();
  // Tolerance: 1e-5 of the data range (255) for a float32 result.
  for (int i = 0; i < 24; ++i) {
    EXPECT_NEAR(p[i], kRampExpect[i], 255 * 1e-5) << i;
    EXPECT_NEAR(p[24 + i], 255 - kRampExpect[i], 255 * 1e-5) << "channel 1, " << i;
  }
}

TEST(Gaussian, Float64MatchesScipyClosely) {
  auto op = Make({{"type", "gaussian"}, {"sigma", {0.8, 1.2, 1.5}}, {"truncate", 2.0}});
  EXPECT_EQ(op->ComputeDType(DataType::kFloat64), DataType::kFloat64);
  const Box out({1, 0, 2}, {2, 3, 4});
  const Shape ctx{2, 2, 3};
  Array r = op->Compute(PaddedInput<double>(out, ctx, DataType::kFloat64), Window(out, ctx));
  ASSERT_EQ(r.dtype(), DataType::kFloat64);
  for (int i = 0; i < 24; ++i) EXPECT_NEAR(r.data_as<double>()[i], kRampExpect[i], 1e-12 * 255);
}

TEST(Gaussian, AVoxelGetsTheSameBitsInEveryWindow) {
  // Exact() promises window results can be copied: overlapping windows must agree bit for bit,
  // including where one window's blocked inner loop overlaps its tail.
  auto op = Make({{"type", "gaussian"}, {"sigma", 1.0}, {"truncate", 1.0}});
  const Shape ctx = op->Context();
  const Box a({0, 0, 0}, {4, 5, 6}), b({1, 2, 3}, {3, 3, 3});
  Array ra = op->Compute(PaddedInput<uint8_t>(a, ctx, DataType::kUint8), Window(a, ctx));
  Array rb = op->Compute(PaddedInput<uint8_t>(b, ctx, DataType::kUint8), Window(b, ctx));
  for (Index z = 0; z < 3; ++z) {
    for (Index y = 0; y < 3; ++y) {
      for (Index x = 0; x < 3; ++x) {
        const float va = ra.data_as<float>()[((z + 1) * 5 + y + 2) * 6 + x + 3];
        const float vb = rb.data_as<float>()[(z * 3 + y) * 3 + x];
        EXPECT_EQ(std::memcmp(&va, &vb, 4), 0) << z << "," << y << "," << x;
      }
    }
  }
}

TEST(Gaussian, LongRowsUseBlocksAndAgreeWithShortOnes) {
  // 200 voxels along x exercise the fixed-size blocks and the shifted last block.
  auto op = Make({{"type", "gaussian"}, {"sigma", {0.0, 0.0, 2.0}}});
  const Index r = op->Context()[2];
  ASSERT_EQ(r, 8);
  Array in(DataType::kUint16, {1, 1, 200 + 2 * r});
  for (Index i = 0; i < 200 + 2 * r; ++i)
    in.data_as<uint16_t>()[i] = static_cast<uint16_t>(i * i % 1000);
  const Box out({0, 0, 0}, {1, 1, 200});
  Array full = op->Compute(in, {out, out.Grow({0, 0, r}), {1, 1, 1000}});
  for (Index start : {0, 37, 150}) {
    const Box part({0, 0, start}, {1, 1, 50});
    Array sub = in.Slice(Box({0, 0, start}, {1, 1, 50 + 2 * r}));
    Array rs = op->Compute(sub, {part, part.Grow({0, 0, r}), {1, 1, 1000}});
    for (Index i = 0; i < 50; ++i) {
      EXPECT_EQ(rs.data_as<float>()[i], full.data_as<float>()[start + i]) << start + i;
    }
  }
}

TEST(Gaussian, ZeroSigmaIsAConversion) {
  auto op = Make({{"type", "gaussian"}, {"sigma", 0}});
  EXPECT_EQ(op->Context(), (Shape{0, 0, 0}));
  const Box out({0, 0, 0}, {4, 5, 6});
  Array r =
      op->Compute(PaddedInput<int16_t>(out, {0, 0, 0}, DataType::kInt16), Window(out, {0, 0, 0}));
  EXPECT_EQ(r.data_as<float>()[1 * 30 + 2 * 6 + 3], V(1, 2, 3));
  EXPECT_EQ(op->Parameters(),
            (nlohmann::json{{"type", "gaussian"}, {"sigma", {0.0, 0.0, 0.0}}, {"truncate", 4.0}}));
}

TEST(Gaussian, RejectsBadParameters) {
  ExpectInvalid({{"type", "gaussian"}, {"sigma", -1}}, "[operator] sigma");
  ExpectInvalid({{"type", "gaussian"}, {"sigma", {1, 2}}}, "[operator] sigma");
  ExpectInvalid({{"type", "gaussian"}, {"sigma", "big"}}, "[operator] sigma");
  ExpectInvalid({{"type", "gaussian"}}, "[operator] sigma");
  ExpectInvalid({{"type", "gaussian"}, {"sigma", 1e9}}, "[operator] sigma");
  ExpectInvalid({{"type", "gaussian"}, {"sigma", 1}, {"truncate", -2}}, "[operator] truncate");
  ExpectInvalid({{"type", "gaussian"}, {"sigmaa", 1}, {"sigma", 1}}, "sigmaa");
}

TEST(Gaussian, OutputDTypes) {
  auto op = Make({{"type", "gaussian"}, {"sigma", 1}});
  EXPECT_NO_THROW(op->CheckOutputDType(DataType::kUint8, DataType::kUint8));
  EXPECT_NO_THROW(op->CheckOutputDType(DataType::kUint8, DataType::kFloat32));
  EXPECT_THROW(op->CheckOutputDType(DataType::kUint8, DataType::kBool), Error);
  EXPECT_THROW(op->ComputeDType(DataType::kFloat16), Error);
}

}  // namespace
}  // namespace volbatch
