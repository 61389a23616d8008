#include <gtest/gtest.h>

#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/ops/op_test_util.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

constexpr auto Make = op_test::Make<RegisterDownsampleOperator>;
constexpr auto ExpectInvalid = op_test::ExpectInvalid<RegisterDownsampleOperator>;

// The window the engine hands the op for output box `out`: its input box is out * factor.
WindowInfo Window(const Box& out, const Shape& factor, const Shape& vol) {
  Box in = out;
  for (size_t a = 0; a < 3; ++a) {
    in.begin[a] *= factor[a];
    in.shape[a] *= factor[a];
  }
  return {out, in, vol};
}

// The window input for output box `out`: the volume (shape `vol`, values `value(z, y, x)`)
// over out * factor, with `pad` where the window runs past the volume (which the op must
// ignore); `channels` > 0 adds a channel axis whose channel c holds value + 1000 c.
template <typename T, typename Fn>
Array Input(const Box& out, const Shape& factor, const Shape& vol, DataType dtype, Fn value, T pad,
            Index channels = 0) {
  return op_test::FillBox<T>(Window(out, factor, vol).input, dtype, channels,
                             [&](Index c, Index z, Index y, Index x) {
                               const bool inside = z < vol[0] && y < vol[1] && x < vol[2];
                               return inside ? static_cast<T>(value(z, y, x) + 1000 * c) : pad;
                             });
}

// V = np.fromfunction(lambda z,y,x: (z*31 + y*17 + x*x*5) % 97, (5,3,7)).astype(np.uint16)
Index MeanVolume(Index z, Index y, Index x) { return (z * 31 + y * 17 + x * x * 5) % 97; }
// Means of the real voxels of each 2x2x3 group of V (output shape (3, 2, 3)):
// [[[V[z*2:z*2+2, y*2:y*2+2, x*3:x*3+3].mean() for x in range(3)] for y in range(2)]
//  for z in range(3)]
const double kMeanExpect[3][2][3] = {
    {{32.333333333333336, 50.75, 34.25}, {57.833333333333336, 52.0, 35.5}},
    {{45.833333333333336, 48.083333333333336, 72.0}, {39.0, 49.333333333333336, 49.0}},
    {{43.833333333333336, 54.166666666666664, 21.5},
     {69.33333333333333, 47.333333333333336, 47.0}}};

TEST(Downsample, MeanIgnoresVoxelsPastTheRaggedEdge) {
  auto op = Make({{"type", "downsample"}, {"factor", {2, 2, 3}}});
  const Shape f{2, 2, 3}, vol{5, 3, 7};
  EXPECT_EQ(op->GetScale(), (Scale{{1, 1, 1}, f}));
  EXPECT_EQ(op->Context(), (Shape{0, 0, 0}));
  EXPECT_EQ(op->ComputeDType(DataType::kUint16), DataType::kFloat32);
  // The whole volume, and a window at the far corner; the padding (60000) must not count.
  for (const Box& out : {Box({0, 0, 0}, {3, 2, 3}), Box({1, 0, 1}, {2, 2, 2})}) {
    Array in = Input<uint16_t>(out, f, vol, DataType::kUint16, MeanVolume, 60000, 2);
    Array r = op->Compute(in, Window(out, f, vol));
    ASSERT_EQ(r.dtype(), DataType::kFloat32);
    ASSERT_EQ(r.shape(), (Shape{2, out.shape[0], out.shape[1], out.shape[2]}));
    const float* p = r.data_as<float>();
    for (Index c = 0; c < 2; ++c) {
      for (Index z = 0; z < out.shape[0]; ++z) {
        for (Index y = 0; y < out.shape[1]; ++y) {
          for (Index x = 0; x < out.shape[2]; ++x) {
            const double want =
                kMeanExpect[out.begin[0] + z][out.begin[1] + y][out.begin[2] + x] + 1000 * c;
            // float32 sums of integers are exact here; one rounding in the division.
            EXPECT_NEAR(*p++, want, want * 1e-7) << out.ToString() << " " << c << z << y << x;
          }
        }
      }
    }
  }
}

TEST(Downsample, MeanOfFloat64StaysFloat64) {
  auto op = Make({{"type", "downsample"}, {"factor", {2, 2, 3}}, {"method", "mean"}});
  const Shape f{2, 2, 3}, vol{5, 3, 7};
  EXPECT_EQ(op->ComputeDType(DataType::kFloat64), DataType::kFloat64);
  const Box out({0, 0, 0}, {3, 2, 3});
  Array r = op->Compute(Input<double>(out, f, vol, DataType::kFloat64, MeanVolume, -1e300),
                        Window(out, f, vol));
  ASSERT_EQ(r.dtype(), DataType::kFloat64);
  const double* expect = &kMeanExpect[0][0][0];
  for (int i = 0; i < 18; ++i) EXPECT_NEAR(r.data_as<double>()[i], expect[i], 1e-12) << i;
}

// Labels drawn from {3, 7, B, B + 1} with B = 2^60 (exact only in integer arithmetic):
// alpha = np.array([3, 7, B, B+1], np.uint64); codes = np.random.RandomState(3).randint(0, 4,
// size=(3, 4, 5)); V = alpha[codes]
const int kCodes[60] = {2, 0, 1, 3, 0, 0, 0, 1, 1, 3, 2, 3, 1, 1, 2, 1, 3, 2, 0, 0,
                        0, 1, 3, 2, 0, 2, 1, 2, 2, 2, 2, 3, 0, 1, 3, 2, 1, 0, 2, 1,
                        1, 2, 0, 3, 2, 3, 0, 3, 1, 3, 3, 0, 1, 0, 2, 1, 1, 3, 2, 0};
constexpr uint64_t kB = uint64_t{1} << 60;
const uint64_t kAlpha[4] = {3, 7, kB, kB + 1};
Index Label(Index z, Index y, Index x) {
  return static_cast<Index>(kAlpha[kCodes[(z * 4 + y) * 5 + x]]);
}

TEST(Downsample, ModePicksTheSmallestOfTiesAndKeepsUint64Exact) {
  auto op = Make({{"type", "downsample"}, {"factor", 2}, {"method", "mode"}});
  const Shape f{2, 2, 2}, vol{3, 4, 5};
  EXPECT_EQ(op->ComputeDType(DataType::kUint64), DataType::kUint64);
  const Box out({0, 0, 0}, {2, 2, 3});
  Array r = op->Compute(Input<uint64_t>(out, f, vol, DataType::kUint64, Label, uint64_t{7}),
                        Window(out, f, vol));
  ASSERT_EQ(r.dtype(), DataType::kUint64);
  // [scipy.stats.mode(V[z*2:z*2+2, y*2:y*2+2, x*2:x*2+2].ravel(), keepdims=False).mode ...]
  // as indices into alpha. Group (0,1,0) counts B and B+1 three times each -> B; group (1,0,1)
  // (ragged in z) counts B+1 twice -> B+1; (0,1,2) and (1,0,0) are four-way ties -> 3. The pad
  // value 7 past the edges would change (1,0,2) and (1,1,2) if it were counted.
  const int expect[12] = {0, 1, 0, 2, 0, 0, 0, 3, 2, 1, 0, 0};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(r.data_as<uint64_t>()[i], kAlpha[expect[i]]) << i;
}

TEST(Downsample, ModeOfLargeGroupsSorts) {
  // 27 values per group takes the sorting path. Nine each of -4, 6 and 1, interleaved:
  // scipy.stats.mode(np.array([-4, 6, 1] * 9, np.int16), keepdims=False).mode == -4
  auto op = Make({{"type", "downsample"}, {"factor", 3}, {"method", "mode"}});
  const Shape f{3, 3, 3}, vol{3, 3, 3};
  const Box out({0, 0, 0}, {1, 1, 1});
  auto value = [](Index z, Index y, Index x) -> Index {
    const int16_t v[3] = {-4, 6, 1};
    return v[(z * 9 + y * 3 + x) % 3];
  };
  Array r = op->Compute(Input<int16_t>(out, f, vol, DataType::kInt16, value, int16_t{0}),
                        Window(out, f, vol));
  EXPECT_EQ(r.data_as<int16_t>()[0], -4);
  // One more 6 breaks the tie: the clear winner beats the smaller value.
  auto more_six = [&](Index z, Index y, Index x) -> Index {
    return z == 0 && y == 0 && x == 0 ? 6 : value(z, y, x);
  };
  r = op->Compute(Input<int16_t>(out, f, vol, DataType::kInt16, more_six, int16_t{0}),
                  Window(out, f, vol));
  EXPECT_EQ(r.data_as<int16_t>()[0], 6);
}

TEST(Downsample, RejectsBadParameters) {
  ExpectInvalid({{"type", "downsample"}, {"factor", 0}}, "[operator] factor");
  ExpectInvalid({{"type", "downsample"}, {"factor", {2, 2}}}, "[operator] factor");
  ExpectInvalid({{"type", "downsample"}, {"factor", 1.5}}, "[operator] factor");
  ExpectInvalid({{"type", "downsample"}}, "[operator] factor");
  ExpectInvalid({{"type", "downsample"}, {"factor", 2}, {"method", "median"}},
                "[operator] method: \"median\" is not a downsample method (mean, mode)");
  ExpectInvalid({{"type", "downsample"}, {"factor", 2}, {"methd", "mode"}}, "methd");
  auto mean = Make({{"type", "downsample"}, {"factor", 2}});
  EXPECT_THROW(mean->CheckOutputDType(DataType::kUint8, DataType::kBool), Error);
  EXPECT_EQ(mean->Parameters(),
            (nlohmann::json{{"type", "downsample"}, {"factor", {2, 2, 2}}, {"method", "mean"}}));
  auto mode = Make({{"type", "downsample"}, {"factor", 2}, {"method", "mode"}});
  EXPECT_NO_THROW(mode->CheckOutputDType(DataType::kBool, DataType::kBool));
}

}  // namespace
}  // namespace volbatch
