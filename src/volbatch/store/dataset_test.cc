// Dataset handles: deferred durability (Sync) and the sweep of crashed writers' temporaries,
// for every format. The formats' own layouts are tested in n5_test, zarr2_test and zarr3_test.
#include "volbatch/store/dataset.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

fs::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  fs::path dir = fs::path(VOLBATCH_BINARY_DIR) / "test_tmp" / "dataset_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Array RandomArray(DataType dtype, const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Array a(dtype, shape);
  for (auto& b : a.bytes()) b = static_cast<std::byte>(rng() % 7);  // some all-zero chunks
  return a;
}

// Regular files below `dir` whose names mark them as temporaries.
std::vector<std::string> Temporaries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.find(".tmp.") != std::string::npos) out.push_back(name);
  }
  return out;
}

struct Variant {
  std::string name;
  std::string path;  // relative to the test directory
  std::string format;
  std::optional<Shape> shards;
};

class DatasetFormats : public ::testing::TestWithParam<Variant> {
 protected:
  CreateOptions Options() const {
    CreateOptions o;
    o.format = GetParam().format;
    o.shape = {40, 33, 20};
    o.chunks = {8, 8, 8};
    o.shards = GetParam().shards;
    o.dtype = DataType::kUint16;
    o.codecs = ParseCodecSpec("zstd:1");
    return o;
  }
};

TEST_P(DatasetFormats, DeferredWritesAreVisibleAtOnceAndDurableAfterSync) {
  const fs::path dir = TestDir();
  const std::string path = (dir / GetParam().path).string();
  const CreateOptions o = Options();
  Dataset ds = Dataset::Create(path, o, {.sync = SyncMode::kDeferred});
  const Array data = RandomArray(o.dtype, o.shape, 1);
  // Two writes that share storage units (read-modify-write of renamed, not yet synced units).
  Box first = Box::FromShape(o.shape);
  first.shape[0] = 13;
  Box second = Box::FromShape(o.shape);
  second.begin[0] = 13;
  second.shape[0] = o.shape[0] - 13;
  ds.Write(first, data.Slice(first));
  ds.Write(second, data.Slice(second));
  // Another handle (another process) sees complete units before any Sync.
  EXPECT_EQ(Dataset::Open(path).Read(Box::FromShape(o.shape)), data);
  ds.Sync();
  ds.Sync();
  EXPECT_EQ(Dataset::Open(path, {.sync = SyncMode::kDeferred}).Read(Box::FromShape(o.shape)), data);
  EXPECT_TRUE(Temporaries(dir).empty());
}

TEST_P(DatasetFormats, DeferredOverwriteErasesTheOldUnits) {
  const fs::path dir = TestDir();
  const std::string path = (dir / GetParam().path).string();
  CreateOptions o = Options();
  Dataset old = Dataset::Create(path, o);
  old.Write(Box::FromShape(o.shape), RandomArray(o.dtype, o.shape, 2));
  o.overwrite = true;
  Dataset ds = Dataset::Create(path, o, {.sync = SyncMode::kDeferred});
  ds.Sync();
  EXPECT_TRUE(Dataset::Open(path).Read(Box::FromShape(o.shape)).AllEqual({}));
}

TEST_P(DatasetFormats, SweepRemovesOnlyCrashedWritersTemporaries) {
  const fs::path dir = TestDir();
  const std::string path = (dir / GetParam().path).string();
  const CreateOptions o = Options();
  Dataset ds = Dataset::Create(path, o);
  const Array data = RandomArray(o.dtype, o.shape, 3);
  ds.Write(Box::FromShape(o.shape), data);
  // A writer that died mid-write, and one of this (live) process.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  std::vector<fs::path> units;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (e.is_regular_file()) units.push_back(e.path());
  }
  ASSERT_FALSE(units.empty());
  for (size_t i = 0; i < units.size(); i += 3) {
    const fs::path p =
        units[i].parent_path() / FileStoreTemporaryName(units[i].filename().string(), child);
    std::ofstream(p) << "half a chunk";
  }
  const fs::path live = units[0].parent_path() / FileStoreTemporaryName("x", ::getpid());
  std::ofstream(live) << "in flight";
  EXPECT_EQ(ds.SweepTemporaries(), (units.size() + 2) / 3);
  EXPECT_EQ(Temporaries(path), std::vector<std::string>{live.filename().string()});
  EXPECT_EQ(Dataset::Open(path).Read(Box::FromShape(o.shape)), data);
  EXPECT_EQ(ds.SweepTemporaries(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    All, DatasetFormats,
    ::testing::Values(Variant{"n5", "c.n5/g/a", "n5", std::nullopt},
                      Variant{"zarr2", "c.zarr/g/a", "zarr2", std::nullopt},
                      Variant{"zarr3", "c.zarr/g/a", "zarr3", std::nullopt},
                      Variant{"zarr3sharded", "c.zarr/g/a", "zarr3", Shape{16, 16, 16}}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

TEST(Dataset, SyncOfAnEachWriteHandleDoesNothing) {
  const fs::path dir = TestDir();
  CreateOptions o;
  o.shape = {4, 4};
  o.chunks = {2, 2};
  Dataset ds = Dataset::Create((dir / "a.zarr").string(), o);
  ds.Write(Box::FromShape(o.shape), Array::Filled(DataType::kUint8, o.shape, {}));
  ds.Sync();
  EXPECT_EQ(ds.SweepTemporaries(), 0u);
}

// A read of part of a blosc chunk decodes only the blosc blocks that hold it (zarr2, and zarr3
// without sharding); it must equal the same part of a whole decode, edge chunks included, and
// the formats whose chunks are not their elements as they are must decode whole.
TEST(Dataset, PartialReadsOfBloscChunksEqualWholeReads) {
  const fs::path dir = TestDir();
  for (const char* format : {"zarr2", "zarr3"}) {
    SCOPED_TRACE(format);
    CreateOptions o;
    o.format = format;
    o.shape = {70, 40, 36};
    o.chunks = {32, 32, 32};
    o.dtype = DataType::kUint32;
    o.codecs = ParseCodecSpec("blosc:zstd:3:shuffle");
    const std::string path = (dir / (std::string(format) + ".zarr")).string();
    Dataset ds = Dataset::Create(path, o);
    const Array all = RandomArray(DataType::kUint32, o.shape, 9);
    ds.Write(Box::FromShape(o.shape), all);
    EXPECT_TRUE(ds.driver().DecodesUnitRegions());
    for (const Box& region : {Box({3, 5, 7}, {20, 9, 28}), Box({31, 0, 0}, {2, 40, 36}),
                              Box({60, 33, 30}, {10, 7, 6}), Box({0, 0, 0}, {70, 40, 36})}) {
      EXPECT_EQ(ds.Read(region), all.Slice(region)) << region.ToString();
    }
    // Straight through the driver: a part of an inner chunk, and of an edge chunk.
    auto part = ds.driver().ReadUnitRegion(ds.kvstore(), {0, 0, 0}, Box({8, 2, 3}, {9, 4, 5}));
    ASSERT_TRUE(part);
    EXPECT_EQ(*part, all.Slice(Box({8, 2, 3}, {9, 4, 5})));
    part = ds.driver().ReadUnitRegion(ds.kvstore(), {2, 1, 1}, Box({0, 0, 0}, {6, 8, 32}));
    ASSERT_TRUE(part);
    Array want = Array::Filled(DataType::kUint32, {6, 8, 32}, ds.layout().fill_value);
    CopyRegion(all.Slice(Box({64, 32, 32}, {6, 8, 4})), Shape{0, 0, 0}, want, Shape{0, 0, 0},
               Shape{6, 8, 4});
    EXPECT_EQ(*part, want);
  }
  CreateOptions o;
  o.format = "zarr3";
  o.shape = {8, 8};
  o.chunks = {4, 4};
  o.dtype = DataType::kUint16;
  o.codecs = ParseCodecSpec("zstd:1");
  EXPECT_FALSE(Dataset::Create((dir / "zstd.zarr").string(), o).driver().DecodesUnitRegions());
  o.codecs = ParseCodecSpec("blosc");
  o.format = "n5";
  EXPECT_FALSE(Dataset::Create((dir / "b.n5").string(), o).driver().DecodesUnitRegions());
}

// The bytes of a stored unit file.
Bytes FileBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  Bytes b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}

// Uncompressed chunks (Zarr v2 and v3) are written from the rows where they lie in the written
// array and read straight into the rows of the array read into (KvStore::SetPieces, GetInto):
// the files must hold exactly each chunk's elements, and every read, of whole chunks, parts,
// edge chunks, into an offset in a larger array, equal the data. A chunk file of the wrong
// size still fails with the decoder's message naming it.
TEST(Dataset, UncompressedChunksGoBetweenFilesAndRowsInPlace) {
  const fs::path dir = TestDir();
  for (const char* format : {"zarr2", "zarr3"}) {
    SCOPED_TRACE(format);
    CreateOptions o;
    o.format = format;
    o.shape = {40, 300, 530};   // edge chunks on every axis
    o.chunks = {16, 128, 256};  // 1 MiB: whole-chunk pieces take the direct path
    o.dtype = DataType::kUint16;
    o.codecs = ParseCodecSpec("raw");
    const std::string path = (dir / (std::string(format) + ".zarr")).string();
    Dataset ds = Dataset::Create(path, o);
    EXPECT_TRUE(ds.driver().StoresUnitsAsElements());
    const Array all = RandomArray(o.dtype, o.shape, 11);
    ds.Write(Box::FromShape(o.shape), all);
    const Box chunk({16, 128, 256}, {16, 128, 256});
    const std::string key = std::string(format) == "zarr2" ? "1/1/1" : "c/1/1/1";
    EXPECT_EQ(FileBytes(fs::path(path) / key), CopyBytes(all.Slice(chunk).bytes()));
    for (const Box& region : {Box::FromShape(o.shape), chunk, Box({3, 5, 7}, {20, 200, 300}),
                              Box({16, 0, 0}, {16, 300, 530}), Box({33, 290, 520}, {7, 10, 10}),
                              Box({20, 130, 260}, {2, 3, 1})}) {
      EXPECT_EQ(ds.Read(region), all.Slice(region)) << region.ToString();
      Array out = Array::Filled(o.dtype, {region.shape[0] + 2, region.shape[1] + 3, 600}, {});
      ds.Read(region, out, {1, 2, 600 - region.shape[2]});
      EXPECT_EQ(out.Slice(Box({1, 2, 600 - region.shape[2]}, region.shape)), all.Slice(region))
          << region.ToString();
      EXPECT_TRUE(out.Slice(Box({0, 0, 0}, {1, out.shape()[1], 600})).AllEqual({}));
    }
    // A chunk never written reads as the fill value; a chunk cut short is an error naming it.
    Dataset empty = Dataset::Create((dir / (std::string(format) + "e.zarr")).string(), o);
    EXPECT_TRUE(empty.Read(chunk).AllEqual({}));
    fs::resize_file(fs::path(path) / key, 1000);
    try {
      ds.Read(chunk);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  // Chunks that are not their elements as they are take the decoders' path.
  CreateOptions o;
  o.shape = {8, 8};
  o.chunks = {4, 4};
  o.dtype = DataType::kUint16;
  o.format = "zarr3";
  o.codecs = ParseCodecSpec("zstd:1");
  EXPECT_FALSE(Dataset::Create((dir / "z.zarr").string(), o).driver().StoresUnitsAsElements());
  o.codecs = ParseCodecSpec("raw");
  o.shards = Shape{8, 8};
  EXPECT_FALSE(Dataset::Create((dir / "s.zarr").string(), o).driver().StoresUnitsAsElements());
  o.shards.reset();
  o.endian = "big";
  EXPECT_FALSE(Dataset::Create((dir / "b.zarr").string(), o).driver().StoresUnitsAsElements());
  o.endian = "little";
  o.format = "zarr2";
  o.order = "F";
  EXPECT_FALSE(Dataset::Create((dir / "f.zarr").string(), o).driver().StoresUnitsAsElements());
  o.order = "C";
  o.format = "n5";
  EXPECT_FALSE(Dataset::Create((dir / "r.n5").string(), o).driver().StoresUnitsAsElements());
}

}  // namespace
}  // namespace volbatch
