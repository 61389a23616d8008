#include "volbatch/store/hdf5_location.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

class Hdf5LocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vb_h5loc_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A file with the HDF5 signature at `at` (after a user block of `at` bytes).
  std::string Signed(const std::string& name, size_t at) {
    const std::string path = (dir_ / name).string();
    std::string bytes(at + 64, '\0');
    bytes.replace(at, 8, "\x89HDF\r\n\x1a\n", 8);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

TEST_F(Hdf5LocationTest, FindsTheFileBySignatureWhateverItsName) {
  const std::string a = Signed("sample_A.data", 0);
  auto where = FindHdf5Location(a + "/volumes/raw");
  ASSERT_TRUE(where);
  EXPECT_EQ(where->file, a);
  EXPECT_EQ(where->object, "/volumes/raw");
  where = FindHdf5Location(a);
  ASSERT_TRUE(where);
  EXPECT_EQ(where->object, "/");
  // After a user block.
  const std::string b = Signed("ublock.h5", 1024);
  EXPECT_TRUE(HasHdf5Signature(b));
  EXPECT_EQ(FindHdf5Location(b + "/x")->object, "/x");
}

TEST_F(Hdf5LocationTest, NotHdf5) {
  EXPECT_FALSE(FindHdf5Location(dir_.string()));                   // a directory
  EXPECT_FALSE(FindHdf5Location((dir_ / "none" / "x").string()));  // nothing
  EXPECT_FALSE(FindHdf5Location("s3://bucket/a.h5/raw"));
  const std::string txt = (dir_ / "notes.h5").string();
  std::ofstream(txt) << "hello";
  EXPECT_FALSE(FindHdf5Location(txt));  // the path itself: not a dataset, said elsewhere
  try {
    FindHdf5Location(txt + "/volumes/raw");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(txt), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/volumes/raw"), std::string::npos) << e.what();
  }
}

TEST_F(Hdf5LocationTest, WritesRefusedByNameOrSignature) {
  EXPECT_TRUE(HasHdf5Name((dir_ / "out.h5" / "raw").string()));
  EXPECT_FALSE(HasHdf5Name((dir_ / "out.zarr" / "raw").string()));
  fs::create_directories(dir_ / "odd.hdf");  // a directory so named is not a file
  EXPECT_FALSE(HasHdf5Name((dir_ / "odd.hdf" / "raw").string()));
  EXPECT_THROW(RefuseHdf5Write((dir_ / "out.hdf5" / "raw").string()), Error);
  EXPECT_THROW(RefuseHdf5Write(Signed("plain", 0) + "/raw"), Error);
  EXPECT_NO_THROW(RefuseHdf5Write((dir_ / "out.zarr" / "raw").string()));
}

}  // namespace
}  // namespace volbatch
