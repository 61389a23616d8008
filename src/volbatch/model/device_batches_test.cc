// DeviceBatches on the CPU path: two batches in flight land in launch order with their own
// outputs (the staging buffers alternate, so staging the next batch does not overwrite the one
// in flight), short batches are padded with zeros, not with an earlier batch's windows, and a
// model that changes its output shape is refused. The CUDA streams are compiled here but run
// only on a GPU (device_batches.h).
#include "volbatch/model/device_batches.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr int64_t kBatch = 4;
const std::vector<int64_t> kWindow = {2, 3, 4};
constexpr size_t kVoxels = 2 * 3 * 4;

torch::jit::Module Scripted(const std::string& forward) {
  torch::jit::Module m("m");
  m.define("def forward(self, x):\n    return " + forward + "\n");
  return m;
}

// `n` windows whose voxels are first, first + 1, ...
std::vector<std::vector<float>> Windows(size_t n, float first) {
  std::vector<std::vector<float>> w(n, std::vector<float>(kVoxels));
  for (size_t i = 0; i < n; ++i) std::iota(w[i].begin(), w[i].end(), first + i * kVoxels);
  return w;
}

std::vector<const float*> In(const std::vector<std::vector<float>>& w) {
  std::vector<const float*> p;
  for (const auto& v : w) p.push_back(v.data());
  return p;
}

std::vector<float*> Out(std::vector<std::vector<float>>& w) {
  std::vector<float*> p;
  for (auto& v : w) p.push_back(v.data());
  return p;
}

DeviceBatches Batches(torch::jit::Module& m) {
  return DeviceBatches(m, torch::kCPU, torch::kFloat32, kBatch, 1, kWindow, 1, kWindow);
}

TEST(DeviceBatches, FillWritesEachWindowWhereTheBatchHoldsIt) {
  torch::jit::Module m = Scripted("x * 2.0");
  DeviceBatches b = Batches(m);
  std::vector<float*> at(3, nullptr);
  b.Launch(3, [&](size_t i, float* to) {
    at[i] = to;
    for (size_t v = 0; v < kVoxels; ++v) to[v] = static_cast<float>(100 * i + v);
  });
  // One staging buffer, window after window.
  EXPECT_EQ(at[1] - at[0], static_cast<ptrdiff_t>(kVoxels));
  EXPECT_EQ(at[2] - at[1], static_cast<ptrdiff_t>(kVoxels));
  std::vector<std::vector<float>> y(3, std::vector<float>(kVoxels));
  b.Land(Out(y));
  for (size_t i = 0; i < 3; ++i) {
    for (size_t v = 0; v < kVoxels; ++v) ASSERT_EQ(y[i][v], 2.f * (100 * i + v)) << i;
  }
  EXPECT_THROW(b.Launch(0, [](size_t, float*) {}), Error);
  EXPECT_THROW(b.Launch(kBatch + 1, [](size_t, float*) {}), Error);
}

TEST(DeviceBatches, TwoInFlightLandInOrderWithTheirOwnOutputs) {
  // `return x`: the output is the staging buffer itself, the harshest case for reuse.
  for (const std::string forward : {"x", "x * 2.0"}) {
    torch::jit::Module m = Scripted(forward);
    DeviceBatches b = Batches(m);
    const float factor = forward == "x" ? 1.f : 2.f;
    auto a = Windows(4, 0), c = Windows(3, 1000), d = Windows(4, 5000);
    b.Launch(In(a));
    b.Launch(In(c));
    EXPECT_EQ(b.InFlight(), 2u);
    std::vector<std::vector<float>> ya(4, std::vector<float>(kVoxels)), yc = ya, yd = ya;
    yc.resize(3);
    b.Land(Out(ya));
    b.Launch(In(d));  // into a's staging buffer, while c is in flight
    b.Land(Out(yc));
    b.Land(Out(yd));
    EXPECT_EQ(b.InFlight(), 0u);
    for (size_t i = 0; i < 4; ++i) {
      for (size_t v = 0; v < kVoxels; ++v) {
        ASSERT_EQ(ya[i][v], factor * a[i][v]) << forward;
        ASSERT_EQ(yd[i][v], factor * d[i][v]) << forward;
        if (i < 3) {
          ASSERT_EQ(yc[i][v], factor * c[i][v]) << forward;
        }
      }
    }
  }
}

TEST(DeviceBatches, AShortBatchIsPaddedWithZeros) {
  // Each window's output is the sum over the batch: stale padding would show.
  torch::jit::Module m = Scripted("x.sum(0, keepdim=True).expand_as(x).contiguous()");
  DeviceBatches b = Batches(m);
  auto full = Windows(4, 100), one = Windows(1, 1);
  std::vector<std::vector<float>> yfull(4, std::vector<float>(kVoxels)), yone(1, yfull[0]);
  b.Launch(In(full));
  b.Land(Out(yfull));
  b.Launch(In(one));  // the other staging buffer
  b.Land(Out(yone));
  b.Launch(In(one));  // the full batch's buffer again: its last 3 windows must be zeroed
  b.Land(Out(yone));
  for (size_t v = 0; v < kVoxels; ++v) ASSERT_EQ(yone[0][v], one[0][v]);
}

TEST(DeviceBatches, RefusesAnotherShapeThanTheDryRun) {
  torch::jit::Module m = Scripted("x[:, :, :1]");
  DeviceBatches b = Batches(m);
  auto a = Windows(2, 0);
  try {
    b.Launch(In(a));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("the model returned [4,1,1,3,4], unlike its dry run "
                                         "([4,1,2,3,4])"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(b.InFlight(), 0u);
}

TEST(DeviceBatches, RefusesMisuse) {
  torch::jit::Module m = Scripted("x");
  DeviceBatches b = Batches(m);
  EXPECT_THROW(b.Land({}), Error);
  EXPECT_THROW(b.Launch({}), Error);
  auto five = Windows(5, 0);
  EXPECT_THROW(b.Launch(In(five)), Error);
}

}  // namespace
}  // namespace volbatch
