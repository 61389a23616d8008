// Pyramid levels written by the blocks: which levels the block geometry allows, that a block
// writes exactly its own whole chunks of each level as it finishes, and that the levels equal
// a reference reduction (and so the downsample pass that writes the coarser ones).
#include "volbatch/engine/block_levels.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "volbatch/core/error.h"
#include "volbatch/engine/pyramid.h"
#include "volbatch/engine/run.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

// 2x2x2 mean over the voxels inside, rounded half to even: what a uint8 level holds.
Array ReferenceMean(const Array& a) {
  const Shape& s = a.shape();
  Shape o = {(s[0] + 1) / 2, (s[1] + 1) / 2, (s[2] + 1) / 2};
  Array out(DataType::kUint8, o);
  const uint8_t* in = a.data_as<uint8_t>();
  for (Index z = 0; z < o[0]; ++z) {
    for (Index y = 0; y < o[1]; ++y) {
      for (Index x = 0; x < o[2]; ++x) {
        double sum = 0;
        int n = 0;
        for (Index dz = 2 * z; dz < std::min(2 * z + 2, s[0]); ++dz) {
          for (Index dy = 2 * y; dy < std::min(2 * y + 2, s[1]); ++dy) {
            for (Index dx = 2 * x; dx < std::min(2 * x + 2, s[2]); ++dx) {
              sum += in[(dz * s[1] + dy) * s[2] + dx];
              ++n;
            }
          }
        }
        out.data_as<uint8_t>()[(z * o[1] + y) * o[2] + x] =
            static_cast<uint8_t>(std::nearbyint(sum / n));
      }
    }
  }
  return out;
}

Array Part(const Array& a, const Box& box) {
  Array out(a.dtype(), box.shape);
  CopyRegion(a, box.begin, out, Shape(box.rank(), 0), box.shape);
  return out;
}

bool Equal(const Array& a, const Array& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::equal(a.bytes().begin(), a.bytes().end(), b.bytes().begin());
}

size_t ChunkFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    n += e.is_regular_file() && e.path().filename().string().front() != '.';
  }
  return n;
}

class OneBlock final : public BlockSource {
 public:
  explicit OneBlock(Index block) : block_(block) {}
  std::optional<Index> Next() override {
    if (given_) return std::nullopt;
    given_ = true;
    return block_;
  }
  std::unique_ptr<BlockSource> Retry(const std::vector<Index>&) override { return nullptr; }

 private:
  Index block_;
  bool given_ = false;
};

class BlockLevelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("block_levels_test." + std::to_string(::getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    CreateOptions o;
    o.shape = {40, 50, 60};
    o.chunks = {8, 8, 8};
    o.dtype = DataType::kUint8;
    o.codecs = nlohmann::json::array();
    Dataset d = Dataset::Create(dir_ + "/in.zarr/raw", o);
    input_ = Array(DataType::kUint8, o.shape);
    std::mt19937 rng(3);
    for (Index i = 0; i < input_.num_elements(); ++i) input_.data_as<uint8_t>()[i] = rng() % 256;
    d.Write(Box::FromShape(o.shape), input_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  JobSpec Spec(const std::string& output) {
    return ParseJobToml("[input]\npath = \"" + dir_ + "/in.zarr/raw\"\n[output]\npath = \"" + dir_ +
                            "/out.zarr/y\"\nformat = \"zarr2\"\ncodec = \"raw\"\n" + output +
                            "\n[operator]\ntype = \"identity\"\n",
                        "test.toml");
  }
  static RunOptions Quiet() {
    RunOptions o;
    o.quiet = true;
    o.threads = 2;
    return o;
  }
  Array ReadAll(const std::string& name) {
    Dataset d = Dataset::Open(dir_ + "/out.zarr/" + name);
    return d.Read(Box::FromShape(d.shape()));
  }

  std::string dir_;
  Array input_;
};

TEST_F(BlockLevelsTest, TheBlockDecidesWhichLevelsItCanWrite) {
  // Level k of a 32^3 block is 32/2^k voxels: whole 8^3 chunks for k = 1, 2, not for k = 3.
  ResolvedJob j =
      ResolveJob(Spec("chunks = [8, 8, 8]\npyramid = 4\n[tiling]\nblock = [32, 32, 32]"));
  ASSERT_EQ(j.block_levels.size(), 2u);
  EXPECT_EQ(j.block_levels[0].path, dir_ + "/out.zarr/y_s1");
  EXPECT_EQ(j.block_levels[0].shape, (Shape{20, 25, 30}));
  EXPECT_EQ(j.block_levels[1].shape, (Shape{10, 13, 15}));
  // A block that is a whole axis imposes nothing along it.
  j = ResolveJob(Spec("chunks = [8, 8, 8]\npyramid = 4\n[tiling]\nblock = [16, 56, 64]"));
  EXPECT_EQ(j.block_levels.size(), 1u);
  j = ResolveJob(Spec("chunks = [8, 8, 8]\npyramid = 4\n[tiling]\nblock = [40, 56, 64]"));
  EXPECT_EQ(j.block_levels.size(), 4u);
  // Anisotropic voxels: the first level halves y and x only, so z needs no more than a chunk.
  j =
      ResolveJob(Spec("chunks = [8, 8, 8]\npyramid = 2\nvoxel_size = [8, 4, 4]\n"
                      "[tiling]\nblock = [8, 16, 16]"));
  ASSERT_EQ(j.block_levels.size(), 1u);
  EXPECT_EQ(j.block_levels[0].factor, (Shape{1, 2, 2}));
  // Without a pyramid, nothing; a block that is not a multiple of 2 chunks, nothing either.
  EXPECT_TRUE(
      ResolveJob(Spec("chunks = [8, 8, 8]\n[tiling]\nblock = [32, 32, 32]")).block_levels.empty());
  EXPECT_TRUE(ResolveJob(Spec("chunks = [8, 8, 8]\npyramid = 2\n[tiling]\nblock = [8, 32, 32]"))
                  .block_levels.empty());
}

TEST_F(BlockLevelsTest, EachBlockWritesItsOwnLevelChunksAsItFinishes) {
  const JobSpec spec = Spec("chunks = [8, 8, 8]\npyramid = 3\n[tiling]\nblock = [32, 32, 32]");
  PreparedJob p = PrepareJob(spec, Quiet());
  ASSERT_EQ(p.job.block_levels.size(), 2u);
  // Block 0 only: its level parts are there, and nothing else is.
  const RunSummary one = ExecuteBlocks(
      p, Quiet(), [](Index) { return std::make_unique<OneBlock>(0); }, "summary.json");
  ASSERT_EQ(one.blocks_done, 1);
  const Array level1 = ReferenceMean(Part(input_, Box({0, 0, 0}, {32, 32, 32})));
  EXPECT_TRUE(Equal(Part(ReadAll("y_s1"), Box({0, 0, 0}, {16, 16, 16})), level1));
  EXPECT_TRUE(Equal(Part(ReadAll("y_s2"), Box({0, 0, 0}, {8, 8, 8})), ReferenceMean(level1)));
  EXPECT_EQ(ChunkFiles(dir_ + "/out.zarr/y_s1"), 8u);  // 16^3 of 8^3 chunks
  EXPECT_EQ(ChunkFiles(dir_ + "/out.zarr/y_s2"), 1u);
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/y_s3"));

  // The rest of the job, then the pass for level 3: every level equals the reference,
  // ragged edges included.
  const RunSummary rest = RunJob(spec, Quiet());
  EXPECT_EQ(rest.blocks_skipped, 1);
  EXPECT_EQ(rest.blocks_failed, 0);
  const PyramidResult pr = FinishJobPyramid(spec, 2, true, false);
  EXPECT_EQ(pr.written_by_blocks, 2);
  ASSERT_EQ(pr.levels.size(), 3u);
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/.volbatch-pyramid/y_s1"));
  EXPECT_TRUE(fs::exists(dir_ + "/out.zarr/.volbatch-pyramid/y_s3"));
  Array want = input_;
  for (const char* name : {"y_s1", "y_s2", "y_s3"}) {
    want = ReferenceMean(want);
    EXPECT_TRUE(Equal(ReadAll(name), want)) << name;
  }
}

// A job that names its job directory keeps the level passes' job directories in it: for an
// output at a URL they would otherwise land under whatever the working directory is.
TEST_F(BlockLevelsTest, PassesKeepTheirJobDirectoriesInTheJobsNamedOne) {
  const JobSpec spec = Spec("chunks = [8, 8, 8]\npyramid = 3\n[tiling]\nblock = [32, 32, 32]\n"
                            "[run]\njobdir = \"" + dir_ + "/jobs/y\"");
  const RunSummary s = RunJob(spec, Quiet());
  EXPECT_EQ(s.blocks_failed, 0);
  const PyramidResult pr = FinishJobPyramid(spec, 2, true, false);
  EXPECT_EQ(pr.written_by_blocks, 2);
  EXPECT_TRUE(fs::exists(dir_ + "/jobs/y/pyramid/y_s3/job.json"));
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/.volbatch-pyramid"));
  Array want = input_;
  for (const char* name : {"y_s1", "y_s2", "y_s3"}) {
    want = ReferenceMean(want);
    EXPECT_TRUE(Equal(ReadAll(name), want)) << name;
  }
}

TEST_F(BlockLevelsTest, SomeoneElsesLevelIsRefusedBeforeAnythingIsWritten) {
  CreateOptions o;
  o.shape = {20, 25, 30};
  o.chunks = {8, 8, 8};
  o.dtype = DataType::kUint8;
  o.codecs = nlohmann::json::array();
  o.format = "zarr2";
  Dataset::Create(dir_ + "/out.zarr/y_s1", o);
  try {
    RunJob(Spec("chunks = [8, 8, 8]\npyramid = 1\n[tiling]\nblock = [16, 16, 16]"), Quiet());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out.zarr/y_s1 exists and was not written by this job"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/y"));
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/y.volbatch"));
}

TEST_F(BlockLevelsTest, MeanLevelsOfABoolOutputAreRefused) {
  try {
    ResolveJob(Spec("dtype = \"bool\"\npyramid = 1"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[output] pyramid_method"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace volbatch
