#include "volbatch/train/class_index.h"

#include <gtest/gtest.h>

#include <map>

#include "volbatch/core/error.h"
#include "volbatch/train/train_test_util.h"

namespace volbatch {
namespace {

// Labels: class 1 in a small corner cube, 2 on one plane, 0 elsewhere, 9 nowhere.
uint32_t Label(const Shape& i) {
  if (i[0] < 3 && i[1] < 3 && i[2] < 3) return 1;
  if (i[2] == 20) return 2;
  return 0;
}

TEST(ClassIndex, CountsMatchBruteForceAndDrawsAreUniform) {
  testing::TempDir dir("class_index");
  const Shape shape{20, 30, 40};
  Dataset d = testing::MakeDataset<uint32_t>(dir / "l.zarr/labels", shape, {8, 8, 8},
                                             std::function<uint32_t(const Shape&)>(Label));
  auto cache = std::make_shared<ChunkCache>(1 << 20);
  SourceReader r(Dataset::Open(dir / "l.zarr/labels"), cache);
  const Box region({0, 0, 1}, {20, 30, 39});  // excludes x = 0
  for (int threads : {1, 3}) {
    const ClassIndex index = ClassIndex::Build(r, {0, 1, 2, 9}, region, threads);
    std::map<uint32_t, uint64_t> truth;
    for (Index z = 0; z < 20; ++z)
      for (Index y = 0; y < 30; ++y)
        for (Index x = 1; x < 40; ++x) ++truth[Label({z, y, x})];
    EXPECT_EQ(index.Count(0), truth[0]);
    EXPECT_EQ(index.Count(1), truth[1]);  // 3 * 3 * 2
    EXPECT_EQ(index.Count(2), truth[2]);
    EXPECT_EQ(index.Count(3), 0u);
    EXPECT_EQ(index.NumChunks(1), 1u);
  }
  const ClassIndex index = ClassIndex::Build(r, {0, 1, 2, 9}, region, 2);
  std::map<Shape, int> hits;
  for (uint64_t i = 0; i < 1800; ++i) {
    CounterRng rng(3, i);
    const Shape v = index.DrawVoxel(r, 1, rng);
    ASSERT_EQ(Label(v), 1u);
    ASSERT_GE(v[2], 1);
    ++hits[v];
  }
  EXPECT_EQ(hits.size(), 18u);  // every voxel of class 1 inside the region
  for (const auto& [v, n] : hits) EXPECT_NEAR(n, 100, 40) << ShapeToString(v);
  CounterRng rng(1, 1);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Label(index.DrawVoxel(r, 2, rng)), 2u);
  EXPECT_THROW(index.DrawVoxel(r, 3, rng), Error);

  // Serialization round trip; corrupt buffers fail as DataLoss.
  const Bytes b = index.Serialize();
  const ClassIndex back = ClassIndex::Deserialize(b);
  EXPECT_EQ(back.Serialize(), b);
  back.CheckMatches(r, {0, 1, 2, 9}, region);
  EXPECT_THROW(back.CheckMatches(r, {0, 1, 2}, region), Error);
  EXPECT_THROW(back.CheckMatches(r, {0, 1, 2, 9}, Box::FromShape(shape)), Error);
  for (size_t cut : {size_t{3}, size_t{20}, b.size() - 8}) {
    EXPECT_THROW(ClassIndex::Deserialize(std::span(b.data(), cut)), Error) << cut;
  }
  Bytes bad = b;
  bad[8] = std::byte{0xff};  // an absurd class count
  EXPECT_THROW(ClassIndex::Deserialize(bad), Error);
}

TEST(ClassIndex, Errors) {
  testing::TempDir dir("class_index_err");
  testing::MakeDataset<float>(dir / "f.zarr/x", {8, 8}, {4, 4}, [](const Shape&) { return 1.0f; });
  SourceReader f(Dataset::Open(dir / "f.zarr/x"), nullptr);
  EXPECT_THROW(ClassIndex::Build(f, {1}, Box::FromShape({8, 8}), 1), Error);  // float labels
  testing::MakeDataset<uint8_t>(dir / "u.zarr/x", {8, 8}, {4, 4},
                                [](const Shape&) { return uint8_t{1}; });
  SourceReader u(Dataset::Open(dir / "u.zarr/x"), nullptr);
  EXPECT_THROW(ClassIndex::Build(u, {300}, Box::FromShape({8, 8}), 1), Error);  // not a uint8
  EXPECT_THROW(ClassIndex::Build(u, {1, 1}, Box::FromShape({8, 8}), 1), Error);
  EXPECT_THROW(ClassIndex::Build(u, {1}, Box::FromShape({9, 8}), 1), Error);
  EXPECT_EQ(ClassIndex::Build(u, {1}, Box::FromShape({8, 8}), 1).Count(0), 64u);
}

}  // namespace
}  // namespace volbatch
