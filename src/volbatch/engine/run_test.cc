#include "volbatch/engine/run.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "volbatch/core/error.h"
#include "volbatch/engine/ledger.h"
#include "volbatch/store/dataset.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("run_test." + std::to_string(::getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A noisy uint8 volume with structure, so that smoothing and thresholds do something.
  std::string MakeInput(Shape shape, Shape chunks, DataType dtype = DataType::kUint8) {
    const std::string path = dir_ + "/in.zarr/raw";
    CreateOptions o;
    o.shape = shape;
    o.chunks = chunks;
    o.dtype = dtype;
    o.codecs = nlohmann::json::array();
    Dataset d = Dataset::Create(path, o);
    Array a(dtype, shape);
    std::mt19937 rng(7);
    VisitDataType(dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_arithmetic_v<T>) {
        for (Index i = 0; i < a.num_elements(); ++i) {
          a.data_as<T>()[i] = static_cast<T>((i % 97) + rng() % 50);
        }
      }
    });
    d.Write(Box::FromShape(shape), a);
    input_ = a;
    return path;
  }

  JobSpec Spec(const std::string& op_toml, const std::string& extra,
               const std::string& out = "out.zarr/y") {
    return ParseJobToml("[input]\npath = \"" + dir_ + "/in.zarr/raw\"\n[output]\npath = \"" + dir_ +
                            "/" + out + "\"\n" + extra + "\n[operator]\n" + op_toml,
                        "test.toml");
  }

  Array ReadOutput(const std::string& out = "out.zarr/y") {
    Dataset d = Dataset::Open(dir_ + "/" + out);
    return d.Read(Box::FromShape(d.shape()));
  }

  std::string dir_;
  Array input_;
};

RunOptions Quiet(int threads = 1, bool force = false) {
  RunOptions o;
  o.quiet = true;
  o.threads = threads;
  o.force = force;
  return o;
}

TEST_F(RunTest, IdentityCopiesTheInput) {
  MakeInput({40, 50, 60}, {16, 16, 16});
  RunSummary s = RunJob(Spec("type = \"identity\"\n", "chunks = [16, 16, 16]\n"), Quiet());
  EXPECT_EQ(s.blocks_failed, 0);
  EXPECT_EQ(s.voxels, 40 * 50 * 60);
  EXPECT_EQ(ReadOutput(), input_);
}

// Pointwise results blended with overlap equal the whole-volume result: uint8 rounds the
// (identical) blended values back exactly.
TEST_F(RunTest, BlendedOverlappingWindowsOfAPointwiseOperatorAreExact) {
  MakeInput({40, 50, 60}, {16, 16, 16});
  for (const char* blend : {"constant", "linear", "gaussian", "bump"}) {
    RunJob(Spec("type = \"identity\"\n",
                "chunks = [16, 16, 16]\n[tiling]\nwindow = [16, 24, 20]\noverlap = [4, 8, 6]\n"
                "blend = \"" +
                    std::string(blend) + "\"\nblock = [32, 32, 32]\n"),
           Quiet(2, true));
    EXPECT_EQ(ReadOutput(), input_) << blend;
  }
}

// DESIGN invariant 3: block size, threads and block order do not change a single bit.
TEST_F(RunTest, OutputIndependentOfBlockSizeThreadsAndOrder) {
  MakeInput({48, 40, 56}, {16, 16, 16});
  const std::string op = "type = \"identity\"\n";
  std::optional<Array> reference;
  struct Case {
    const char* block;
    int threads;
    const char* order;
  };
  for (Case c : {Case{"[16, 16, 16]", 1, "lattice"}, Case{"[32, 16, 48]", 2, "shuffle"},
                 Case{"[48, 48, 64]", 2, "lattice"}, Case{"[16, 32, 16]", 1, "shuffle"}}) {
    // Blended float output: the sums must be formed in the same order everywhere.
    RunJob(Spec(op,
                "dtype = \"float32\"\nchunks = [16, 16, 16]\n[tiling]\nwindow = [12, 20, 24]\n"
                "overlap = [3, 5, 7]\nblend = \"gaussian\"\nblock = " +
                    std::string(c.block) + "\n[run]\norder = \"" + c.order + "\"\nseed = 3\n"),
           Quiet(c.threads, true));
    Array out = ReadOutput();
    if (!reference) {
      reference = out;
    } else {
      EXPECT_TRUE(out == *reference) << c.block << " " << c.threads << " " << c.order;
    }
  }
}

// An exact operator without a window computes each block as one window; the output must be
// the same bits as with small windows (which straddle nothing) and with edge blocks.
TEST_F(RunTest, ExactOperatorsComputeWholeBlocksAsOneWindowWithTheSameResult) {
  MakeInput({40, 50, 60}, {16, 16, 16});
  const std::string op = "type = \"gaussian\"\nsigma = [1.0, 2.0, 1.5]\n";
  const std::string out = "dtype = \"float32\"\nchunks = [16, 16, 16]\n";
  const JobSpec whole = Spec(op, out + "[tiling]\nblock = [32, 32, 48]\n");
  const ResolvedJob r = ResolveJob(whole);
  EXPECT_TRUE(r.block_windows);
  EXPECT_EQ(r.window, Shape({32, 32, 48}));
  RunJob(whole, Quiet(2, true));
  const Array a = ReadOutput();
  const JobSpec windows = Spec(op, out + "[tiling]\nwindow = [8, 16, 16]\nblock = [32, 32, 48]\n");
  EXPECT_FALSE(ResolveJob(windows).block_windows);
  RunJob(windows, Quiet(2, true));
  EXPECT_TRUE(ReadOutput() == a);
}

TEST_F(RunTest, ResumeSkipsDoneBlocksAndRefusesAChangedJob) {
  MakeInput({32, 32, 32}, {16, 16, 16});
  const std::string extra = "chunks = [16, 16, 16]\n[tiling]\nblock = [16, 16, 16]\n";
  RunSummary first = RunJob(Spec("type = \"threshold\"\nvalue = 60\n", extra), Quiet());
  EXPECT_EQ(first.blocks_done, 8);
  RunSummary again = RunJob(Spec("type = \"threshold\"\nvalue = 60\n", extra), Quiet());
  EXPECT_EQ(again.blocks_skipped, 8);
  EXPECT_EQ(again.blocks_done, 0);
  try {
    RunJob(Spec("type = \"threshold\"\nvalue = 61\n", extra), Quiet());
    FAIL() << "a changed job must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("operator.value: was 60"), std::string::npos) << e.what();
  }
  RunSummary forced = RunJob(Spec("type = \"threshold\"\nvalue = 61\n", extra), Quiet(1, true));
  EXPECT_EQ(forced.blocks_done, 8);
}

TEST_F(RunTest, FailingBlockIsReportedWithItsChunkAndRetriedOnResume) {
  MakeInput({32, 32, 32}, {16, 16, 16});
  // Corrupt one input chunk.
  const std::string chunk = dir_ + "/in.zarr/raw/c/1/0/1";
  ASSERT_TRUE(fs::exists(chunk));
  fs::resize_file(chunk, 10);
  const std::string extra = "chunks = [16, 16, 16]\n[tiling]\nblock = [16, 16, 16]\n";
  RunSummary s = RunJob(Spec("type = \"identity\"\n", extra), Quiet());
  EXPECT_EQ(s.blocks_failed, 1);
  EXPECT_EQ(s.blocks_done, 7);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_NE(s.failures[0].error.find("c/1/0/1"), std::string::npos) << s.failures[0].error;
  EXPECT_NE(s.failures[0].error.find("[16:32, 0:16, 16:32]"), std::string::npos)
      << s.failures[0].error;
  // Repair the chunk: the resume redoes only the failed block.
  Dataset in = Dataset::Open(dir_ + "/in.zarr/raw");
  in.Write(Box::FromShape({32, 32, 32}), input_);
  RunSummary r = RunJob(Spec("type = \"identity\"\n", extra), Quiet());
  EXPECT_EQ(r.blocks_skipped, 7);
  EXPECT_EQ(r.blocks_done, 1);
  EXPECT_EQ(ReadOutput(), input_);
}

std::string RunError(const JobSpec& spec) {
  try {
    RunJob(spec, Quiet());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(RunTest, BadJobsFailBeforeAnyBlockNamingTheField) {
  MakeInput({32, 32, 32}, {16, 16, 16});
  EXPECT_NE(RunError(Spec("type = \"identity\"\n",
                          "chunks = [16, 16, 16]\n[tiling]\nwindow = [8, 8, 8]\noverlap = [8, 0, "
                          "0]\n"))
                .find("[tiling] overlap"),
            std::string::npos);
  EXPECT_NE(RunError(Spec("type = \"identity\"\n",
                          "chunks = [16, 16, 16]\n[tiling]\nblock = [24, 16, 16]\n"))
                .find("[tiling] block"),
            std::string::npos);
  EXPECT_NE(RunError(Spec("type = \"argmax\"\n", "dtype = \"uint8\"\n")).find("channel"),
            std::string::npos);
  EXPECT_NE(RunError(Spec("type = \"threshold\"\nvalue = 3\n", "dtype = \"float16\"\n"))
                .find("[output] dtype"),
            std::string::npos);
  // An existing output with another layout.
  CreateOptions o;
  o.shape = {32, 32, 32};
  o.chunks = {8, 8, 8};
  o.dtype = DataType::kUint8;
  Dataset::Create(dir_ + "/out.zarr/y", o);
  EXPECT_NE(
      RunError(Spec("type = \"identity\"\n", "chunks = [16, 16, 16]\n")).find("different layout"),
      std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/out.zarr/y.volbatch/ledger"));
  // A missing input.
  fs::remove_all(dir_ + "/in.zarr");
  EXPECT_NE(RunError(Spec("type = \"identity\"\n", "", "out2.zarr/y")).find("[input] path"),
            std::string::npos);
}

TEST_F(RunTest, ExistingOutputNotWrittenByTheJobIsNotOverwritten) {
  MakeInput({16, 16, 16}, {16, 16, 16});
  CreateOptions o;
  o.shape = {16, 16, 16};
  o.chunks = {16, 16, 16};
  o.dtype = DataType::kUint8;
  Dataset::Create(dir_ + "/out.zarr/y", o);
  const std::string e = RunError(Spec("type = \"identity\"\n", "chunks = [16, 16, 16]\n"));
  EXPECT_NE(e.find("not written by this job"), std::string::npos) << e;
}

TEST_F(RunTest, CastWithPercentilesComputedOnceOverTheWholeInput) {
  MakeInput({32, 32, 32}, {16, 16, 16});
  RunJob(Spec("type = \"cast\"\npercentiles = [0, 100]\n",
              "dtype = \"uint8\"\nchunks = [16, 16, 16]\n"),
         Quiet());
  // percentiles 0..100 = the min and max of the input: the cast spans the full uint8 range.
  Array out = ReadOutput();
  uint8_t lo = 255, hi = 0;
  for (Index i = 0; i < out.num_elements(); ++i) {
    lo = std::min(lo, out.data_as<uint8_t>()[i]);
    hi = std::max(hi, out.data_as<uint8_t>()[i]);
  }
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 255);
  EXPECT_TRUE(fs::exists(dir_ + "/out.zarr/y.volbatch/stats.json"));
}

}  // namespace
}  // namespace volbatch
