#include "volbatch/engine/job.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "volbatch/core/error.h"
#include "volbatch/engine/job_dir.h"

namespace volbatch {
namespace {

std::string ErrorOf(const std::string& toml) {
  try {
    ParseJobToml(toml, "job.toml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* kBase = R"(
[input]
path = "in.n5/raw"
[output]
path = "out.zarr/x"
dtype = "float32"
chunks = [32, 32, 32]
[operator]
type = "gaussian"
sigma = 2.0
)";

TEST(JobFile, ParsesTheTables) {
  JobSpec s = ParseJobToml(std::string(kBase) +
                               "[tiling]\noverlap = [0, 4, 4]\nblock = [64, "
                               "64, 64]\n[run]\nthreads = 2\nmemory = \"1GiB\"\n",
                           "job.toml");
  EXPECT_EQ(s.input.path, "in.n5/raw");
  EXPECT_EQ(s.output.dtype, DataType::kFloat32);
  EXPECT_EQ(*s.output.chunks, Shape({32, 32, 32}));
  EXPECT_EQ(s.op["type"], "gaussian");
  EXPECT_EQ(*s.tiling.overlap, Shape({0, 4, 4}));
  EXPECT_EQ(s.run.threads, 2);
  EXPECT_EQ(s.run.memory, int64_t{1} << 30);
}

TEST(JobFile, UnknownKeysAreErrorsNamingThem) {
  EXPECT_NE(ErrorOf(std::string(kBase) + "[tiling]\noverlapp = [1, 1, 1]\n")
                .find("[tiling] overlapp: unknown key"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kBase) + "[tilling]\n").find("[tilling]: unknown table"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[input]\npath = \"a\"\npth = 1\n[output]\npath = \"b\"\n[operator]\ntype = "
                    "\"identity\"\n")
                .find("[input] pth"),
            std::string::npos);
}

TEST(JobFile, WrongTypesNameTheField) {
  EXPECT_NE(ErrorOf(std::string(kBase) + "[run]\nthreads = \"two\"\n").find("[run] threads"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kBase) + "[tiling]\nblock = [64, \"x\"]\n").find("[tiling] block"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(kBase) + "[run]\nmemory = \"4 parsecs\"\n").find("[run] memory"),
            std::string::npos);
}

TEST(JobFile, SyntaxErrorsNameFileAndLine) {
  const std::string e = ErrorOf("[input]\npath = \n");
  EXPECT_NE(e.find("job.toml:2"), std::string::npos) << e;
}

TEST(JobFile, MissingTablesAndKeys) {
  EXPECT_NE(ErrorOf("[output]\npath = \"b\"\n[operator]\ntype = \"identity\"\n").find("[input]"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[input]\n[output]\npath = \"b\"\n[operator]\ntype = \"identity\"\n")
                .find("[input] path: missing"),
            std::string::npos);
}

TEST(JobFile, EmptyOrNulPathsNameTheField) {
  const std::string tail = "[output]\npath = \"b\"\n[operator]\ntype = \"identity\"\n";
  EXPECT_NE(ErrorOf("[input]\npath = \"\"\n" + tail).find("[input] path: must not be empty"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[input]\npath = \"a\\u0000b\"\n" + tail).find("[input] path: contains a NUL"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[input]\npath = \"a\"\n[output]\npath = \"\"\n[operator]\ntype = "
                    "\"identity\"\n")
                .find("[output] path: must not be empty"),
            std::string::npos);
}

TEST(ByteSize, Units) {
  EXPECT_EQ(ParseByteSize("512MiB", "m"), int64_t{512} << 20);
  EXPECT_EQ(ParseByteSize("2 GB", "m"), 2000000000);
  EXPECT_EQ(ParseByteSize(4096, "m"), 4096);
  EXPECT_THROW(ParseByteSize("-1GiB", "m"), Error);
  EXPECT_THROW(ParseByteSize("lots", "m"), Error);
}

TEST(JobDir, DescribeChangeNamesTheField) {
  nlohmann::json a = {{"tiling", {{"overlap", {8, 32, 32}}, {"blend", "gaussian"}}}};
  nlohmann::json b = a;
  b["tiling"]["overlap"] = {4, 32, 32};
  EXPECT_EQ(DescribeChange(a, b), "tiling.overlap: was [8,32,32], now [4,32,32]");
  EXPECT_EQ(DescribeChange(a, a), "");
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
}

// Data at a URL, the job directory on this filesystem: beside the output for a path, the URL's
// path under the working directory for a URL, and a [run] jobdir at a URL refused.
TEST(JobDirTest, AnOutputAtAUrlHasItsJobDirectoryUnderTheWorkingDirectory) {
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(DefaultJobDir("/data/out.zarr/mito/"), "/data/out.zarr/mito.volbatch");
  EXPECT_EQ(DefaultJobDir("s3://lab/em/out.zarr/mito/"), cwd + "/s3/lab/em/out.zarr/mito.volbatch");
  EXPECT_EQ(DefaultJobDir("https://host/a.n5/s0"), cwd + "/https/host/a.n5/s0.volbatch");
  JobSpec spec;
  spec.source = "job.toml";
  spec.output.path = "s3://lab/out.zarr/o";
  spec.run.jobdir = "s3://lab/jobs/o";
  try {
    JobDirOf(spec);
    FAIL() << "accepted a job directory at a URL";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "job.toml: [run] jobdir: s3://lab/jobs/o: the job directory must be on a filesystem "
              "(the data may be at a URL)");
  }
}

}  // namespace
}  // namespace volbatch
