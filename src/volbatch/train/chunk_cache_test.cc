#include "volbatch/train/chunk_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "volbatch/core/error.h"
#include "volbatch/tile/window_sampler.h"
#include "volbatch/train/train_test_util.h"

namespace volbatch {
namespace {

ChunkPtr Chunk(size_t bytes, uint8_t value = 0) {
  Array a(DataType::kUint8, Shape{static_cast<Index>(bytes)});
  std::memset(a.data(), value, bytes);
  return ChunkFromArray(std::move(a));
}

TEST(ChunkCache, KeepsRecentChunksPerSource) {
  ChunkCache cache(400);
  ASSERT_EQ(cache.AddSource(100), 0u);
  ASSERT_EQ(cache.AddSource(100), 1u);  // 2 slots each
  int loads = 0;
  auto load = [&] {
    ++loads;
    return Chunk(100);
  };
  cache.Get(0, 1, load);
  cache.Get(0, 2, load);
  cache.Get(0, 1, load);  // hit; 1 is now the most recent
  EXPECT_EQ(loads, 2);
  cache.Get(0, 3, load);  // evicts (0, 2)
  cache.Get(1, 1, load);  // another source's slots: evicts nothing of source 0
  EXPECT_EQ(loads, 4);
  cache.Get(0, 1, load);
  cache.Get(0, 3, load);
  EXPECT_EQ(loads, 4);
  cache.Get(0, 2, load);
  EXPECT_EQ(loads, 5);
  const auto s = cache.stats();
  EXPECT_EQ(s.bytes, 300u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 5u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_THROW(cache.AddSource(100), Error);  // the slots are fixed
}

// With each source's chunk count known, the capacity goes to sources by their share of the
// data: a cache that holds every chunk of both keeps them all, though one source has 4 times
// as many (equally many slots per source would have left it 3 short and thrashing).
TEST(ChunkCache, SlotsFollowEachSourcesShareOfTheData) {
  ChunkCache cache(1000);
  ASSERT_EQ(cache.AddSource(100, 2), 0u);
  ASSERT_EQ(cache.AddSource(100, 8), 1u);
  int loads = 0;
  auto load = [&] {
    ++loads;
    return Chunk(100);
  };
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 0; i < 2; ++i) cache.Get(0, i, load);
    for (uint64_t i = 0; i < 8; ++i) cache.Get(1, i, load);
  }
  EXPECT_EQ(loads, 10);
  EXPECT_EQ(cache.stats().evictions, 0u);
  // Half the data fits: each source keeps half of its chunks (1 and 4).
  ChunkCache half(500);
  half.AddSource(100, 2);
  half.AddSource(100, 8);
  loads = 0;
  for (uint64_t i = 0; i < 8; ++i) half.Get(1, i, load);
  for (uint64_t i = 4; i < 8; ++i) half.Get(1, i, load);  // the 4 most recent: hits
  EXPECT_EQ(loads, 8);
  half.Get(1, 0, load);
  EXPECT_EQ(loads, 9);
}

TEST(ChunkCache, ChunksInUseAreNeverOverwritten) {
  ChunkCache cache(200);
  cache.AddSource(100);  // 2 slots
  const ChunkPtr one = cache.Get(0, 1, [] { return Chunk(100, 1); });
  cache.Get(0, 2, [] { return Chunk(100, 2); });
  // (0, 1) is the oldest but held: its slot stays; (0, 2) goes.
  const ChunkPtr three = cache.Get(0, 3, [] { return Chunk(100, 3); });
  const ChunkPtr four = cache.Get(0, 4, [] { return Chunk(100, 4); });  // both slots held
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(one->data_as<uint8_t>()[i], 1);
    ASSERT_EQ(three->data_as<uint8_t>()[i], 3);
    ASSERT_EQ(four->data_as<uint8_t>()[i], 4);
  }
  int loads = 0;
  cache.Get(0, 4, [&] {
    ++loads;
    return Chunk(100, 4);
  });
  EXPECT_EQ(loads, 1);  // (0, 4) was returned but not kept
  EXPECT_LE(cache.stats().bytes, 200u);
}

TEST(ChunkCache, ConcurrentMissesLoadOnce) {
  ChunkCache cache(1 << 20);
  cache.AddSource(10);
  std::atomic<int> loads{0};
  std::vector<std::thread> threads;
  std::vector<ChunkPtr> got(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      got[t] = cache.Get(0, 7, [&] {
        ++loads;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return Chunk(10);
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(loads.load(), 1);
  for (const auto& g : got) EXPECT_EQ(g, got[0]);
}

TEST(ChunkCache, ErrorsReachTheCallerAndAreNotCached) {
  ChunkCache cache(1 << 20);
  cache.AddSource(1);
  EXPECT_THROW(cache.Get(0, 1, []() -> ChunkPtr { throw DataLoss("bad chunk"); }), Error);
  int loads = 0;
  cache.Get(0, 1, [&] {
    ++loads;
    return Chunk(1);
  });
  EXPECT_EQ(loads, 1);
}

TEST(ChunkCache, ZeroCapacityKeepsNothing) {
  ChunkCache cache(0);
  cache.AddSource(1);
  int loads = 0;
  for (int i = 0; i < 3; ++i) {
    cache.Get(0, 1, [&] {
      ++loads;
      return Chunk(1);
    });
  }
  EXPECT_EQ(loads, 3);
}

// 40 random regions (uint16) read through `r` equal Dataset::Read of `d`.
void ExpectReadsEqualDatasetRead(const SourceReader& r, const Dataset& d, CounterRng rng,
                                 const std::string& what) {
  const Shape& shape = d.shape();
  for (int t = 0; t < 40; ++t) {
    Shape b(shape.size()), s(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
      b[i] = static_cast<Index>(rng.Uniform(static_cast<uint64_t>(shape[i])));
      s[i] = static_cast<Index>(rng.Uniform(static_cast<uint64_t>(shape[i] - b[i]) + 1));
    }
    const Box box(b, s);
    Array got(DataType::kUint16, s);
    r.Read(box, got);
    ASSERT_EQ(got, d.Read(box)) << what << " " << box.ToString();
  }
}

// SourceReader reads the same voxels as Dataset::Read, cached or not, for every format,
// sharded Zarr v3 included, at the array's edges and in absent (fill value) chunks.
TEST(SourceReader, MatchesDatasetRead) {
  testing::TempDir dir("reader");
  struct Case {
    std::string path, format;
    std::optional<Shape> shards;
  };
  const std::vector<Case> cases{{dir / "a.zarr/v2", "zarr2", std::nullopt},
                                {dir / "a.n5/raw", "n5", std::nullopt},
                                {dir / "b.zarr/v3", "zarr3", Shape{16, 16, 32}}};
  for (const Case& c : cases) {
    const Shape shape{37, 41, 50};
    Dataset d = testing::MakeDataset<uint16_t>(
        c.path, shape, {8, 8, 16},
        [](const Shape& i) {
          // A zero slab leaves whole chunks at the fill value (absent).
          return i[0] < 8 ? uint16_t{0} : static_cast<uint16_t>(i[0] * 1000 + i[1] * 50 + i[2]);
        },
        c.format, c.shards);
    for (size_t capacity : {size_t{0}, size_t{1} << 20}) {
      auto cache = std::make_shared<ChunkCache>(capacity);
      SourceReader r(Dataset::Open(c.path), cache);
      ExpectReadsEqualDatasetRead(r, d, CounterRng(1, 2), c.format + " cache " +
                                                               std::to_string(capacity));
    }
  }
}

// Blosc chunks in Zarr are read and cached in slabs of axis-0 slices (a part of a blosc chunk
// decodes alone); everything else in whole chunks. Reads equal Dataset::Read either way, edge
// chunks (decoded whole, their outside replaced by the fill value) included.
TEST(SourceReader, BloscChunksAreReadInSlabs) {
  testing::TempDir dir("slabs");
  struct Case {
    std::string path, format, codec;
    Shape cell;
  };
  const std::vector<Case> cases{
      {dir / "a.zarr/v2", "zarr2", "blosc:zstd:3:shuffle", {32, 64, 32}},
      {dir / "b.zarr/v3", "zarr3", "blosc:lz4:5:shuffle", {32, 64, 32}},
      {dir / "c.zarr/v2", "zarr2", "zstd:1", {64, 64, 32}},
      {dir / "d.n5/raw", "n5", "blosc:lz4:5:shuffle", {64, 64, 32}}};
  for (const Case& c : cases) {
    const Shape shape{100, 70, 64};
    Dataset d = testing::MakeDataset<uint16_t>(
        c.path, shape, {64, 64, 32},
        [](const Shape& i) { return static_cast<uint16_t>(i[0] * 1000 + i[1] * 50 + i[2]); },
        c.format, std::nullopt, c.codec);
    for (size_t capacity : {size_t{0}, size_t{4} << 20}) {
      auto cache = std::make_shared<ChunkCache>(capacity);
      SourceReader r(Dataset::Open(c.path), cache);
      ASSERT_EQ(r.chunk_shape(), c.cell) << c.path;
      ExpectReadsEqualDatasetRead(r, d, CounterRng(3, 4), c.path + " cache " +
                                                               std::to_string(capacity));
    }
  }
}

}  // namespace
}  // namespace volbatch
