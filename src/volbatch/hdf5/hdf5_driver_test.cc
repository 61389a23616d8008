#include "volbatch/hdf5/hdf5_driver.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_test_util.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/node_attributes.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using testing::Hdf5Spec;
using testing::WriteHdf5;

class Hdf5DriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vb_hdf5_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = (dir_ / "sample_A.hdf").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A (7, 11, 13) volume of v[i] = i * 37 (mod the type's range).
  template <typename T>
  std::vector<T> Volume() {
    std::vector<T> v(7 * 11 * 13);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(i * 37);
    return v;
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(Hdf5DriverTest, ReadsChunkedGzipShuffleBigEndianWithOddShape) {
  const auto v = Volume<uint16_t>();
  WriteHdf5(file_, "/volumes/raw",
            Hdf5Spec{.file_type = H5T_STD_U16BE,
                     .mem_type = H5T_NATIVE_UINT16,
                     .dims = {7, 11, 13},
                     .chunks = std::vector<hsize_t>{4, 4, 8},
                     .gzip = 4,
                     .shuffle = true},
            v.data());
  const Dataset ds = Dataset::Open(file_ + "/volumes/raw");
  EXPECT_EQ(ds.format(), "hdf5");
  EXPECT_EQ(ds.dtype(), DataType::kUint16);
  EXPECT_EQ(ds.shape(), (Shape{7, 11, 13}));
  EXPECT_EQ(ds.layout().chunks, (Shape{4, 4, 8}));
  EXPECT_EQ(ds.driver().CodecSummary(), "shuffle | gzip(level=4)");
  const Array all = ds.Read(Box::FromShape(ds.shape()));
  EXPECT_EQ(std::vector<uint16_t>(all.data_as<uint16_t>(), all.data_as<uint16_t>() + v.size()), v);
  // A region across chunk borders.
  const Array part = ds.Read(Box({3, 2, 5}, {3, 6, 7}));
  for (Index z = 0; z < 3; ++z) {
    for (Index y = 0; y < 6; ++y) {
      for (Index x = 0; x < 7; ++x) {
        ASSERT_EQ(part.data_as<uint16_t>()[(z * 6 + y) * 7 + x],
                  v[((3 + z) * 11 + 2 + y) * 13 + 5 + x]);
      }
    }
  }
}

TEST_F(Hdf5DriverTest, ReadsContiguousInSlabsAndPastTheEdgeAsFill) {
  const auto v = Volume<float>();
  WriteHdf5(
      file_, "/raw",
      Hdf5Spec{.file_type = H5T_IEEE_F32BE, .mem_type = H5T_NATIVE_FLOAT, .dims = {7, 11, 13}},
      v.data());
  const Dataset ds = Dataset::Open(file_ + "/raw");
  EXPECT_EQ(ds.dtype(), DataType::kFloat32);
  EXPECT_EQ(ds.layout().chunks, (Shape{7, 11, 13}));  // small: one slab
  const Array all = ds.Read(Box::FromShape(ds.shape()));
  EXPECT_EQ(std::vector<float>(all.data_as<float>(), all.data_as<float>() + v.size()), v);
  // A training cache's cell reaching past the edge: the outside reads as the fill value (0).
  const auto cell = ds.driver().ReadUnitRegion(ds.kvstore(), {0, 0, 0}, Box({4, 8, 8}, {4, 4, 8}));
  ASSERT_TRUE(cell);
  EXPECT_EQ(cell->data_as<float>()[0], v[(4 * 11 + 8) * 13 + 8]);
  EXPECT_EQ(cell->data_as<float>()[3 * 32 + 3 * 8 + 7], 0.0f);
}

TEST_F(Hdf5DriverTest, SlabsAreWholeRowsOfAboutTheTarget) {
  EXPECT_EQ(Hdf5SlabShape({100, 1000, 1000}, 1, 4 << 20), (Shape{4, 1000, 1000}));
  EXPECT_EQ(Hdf5SlabShape({10, 10, 4000000}, 2, 4 << 20), (Shape{1, 1, 2097152}));
  EXPECT_EQ(Hdf5SlabShape({3, 0, 5}, 8, 4 << 20), (Shape{3, 1, 5}));
}

TEST_F(Hdf5DriverTest, AttributesAsJsonForDatasetsAndGroups) {
  const auto v = Volume<uint8_t>();
  WriteHdf5(file_, "/volumes/raw", Hdf5Spec{.dims = {7, 11, 13}}, v.data());
  testing::WriteHdf5Attribute(file_, "/volumes/raw", "resolution", H5T_IEEE_F64BE,
                              {40.0, 4.0, 4.0});
  testing::WriteHdf5Attribute(file_, "/volumes/raw", "offset", H5T_STD_I32LE, {0, -8, 16});
  const Dataset ds = Dataset::Open(file_ + "/volumes/raw");
  const nlohmann::json attrs = ds.driver().Attributes();
  EXPECT_EQ(attrs["resolution"], nlohmann::json({40.0, 4.0, 4.0}));
  EXPECT_EQ(attrs["offset"], nlohmann::json({0, -8, 16}));
  EXPECT_EQ(ReadNodeAttributes(file_ + "/volumes/raw"), attrs);
  EXPECT_EQ(ReadNodeAttributes(file_ + "/volumes"), nlohmann::json::object());
}

TEST_F(Hdf5DriverTest, BadInputNamesTheFileAndThePath) {
  const auto v = Volume<uint8_t>();
  WriteHdf5(file_, "/volumes/raw", Hdf5Spec{.dims = {7, 11, 13}}, v.data());
  auto message = [](const std::function<void()>& f, ErrorCode code) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  };
  auto names = [&](const std::string& m, const std::string& path) {
    EXPECT_NE(m.find(file_), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  };
  names(message([&] { Dataset::Open(file_ + "/volumes/nope"); }, ErrorCode::kNotFound),
        "/volumes/nope");
  names(message([&] { Dataset::Open(file_ + "/nope/raw"); }, ErrorCode::kNotFound), "/nope");
  names(message([&] { Dataset::Open(file_ + "/volumes"); }, ErrorCode::kInvalidArgument),
        "/volumes");
  {
    auto lock = LockHdf5();
    Hid compound(H5Tcreate(H5T_COMPOUND, 8), H5Tclose);
    H5Tinsert(compound.get(), "a", 0, H5T_NATIVE_INT32);
    H5Tinsert(compound.get(), "b", 4, H5T_NATIVE_FLOAT);
    Hid text(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(text.get(), 5);
    Hid vtext(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(vtext.get(), H5T_VARIABLE);
    Hid vlen(H5Tvlen_create(H5T_NATIVE_INT32), H5Tclose);
    WriteHdf5(file_, "/compound", Hdf5Spec{.file_type = compound.get(), .dims = {4}}, nullptr);
    WriteHdf5(file_, "/text", Hdf5Spec{.file_type = text.get(), .dims = {4}}, nullptr);
    WriteHdf5(file_, "/vtext", Hdf5Spec{.file_type = vtext.get(), .dims = {4}}, nullptr);
    WriteHdf5(file_, "/vlen", Hdf5Spec{.file_type = vlen.get(), .dims = {4}}, nullptr);
  }
  for (const char* bad : {"/compound", "/text", "/vtext", "/vlen"}) {
    names(message([&] { Dataset::Open(file_ + bad); }, ErrorCode::kUnsupported), bad);
  }
  // Not HDF5: a file with an inner path, named with both.
  const std::string notes = (dir_ / "notes.h5").string();
  std::ofstream(notes) << "not hdf5 at all, but long enough to have 512 bytes? no.";
  const std::string m =
      message([&] { Dataset::Open(notes + "/volumes/raw"); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(m.find(notes), std::string::npos) << m;
  EXPECT_NE(m.find("/volumes/raw"), std::string::npos) << m;
}

TEST_F(Hdf5DriverTest, WritesAreRefusedNamingThePath) {
  const auto v = Volume<uint8_t>();
  WriteHdf5(file_, "/volumes/raw", Hdf5Spec{.dims = {7, 11, 13}}, v.data());
  Dataset ds = Dataset::Open(file_ + "/volumes/raw");
  try {
    ds.Write(Box({0, 0, 0}, {1, 1, 1}), Array::Filled(DataType::kUint8, {1, 1, 1}, {}));
    ADD_FAILURE() << "write into HDF5 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find(file_ + "/volumes/raw"), std::string::npos) << e.what();
  }
  CreateOptions c;
  c.shape = {4, 4, 4};
  c.chunks = {4, 4, 4};
  for (const std::string& path : {file_ + "/volumes/new", (dir_ / "new.h5" / "raw").string()}) {
    try {
      Dataset::Create(path, c);
      ADD_FAILURE() << path << ": created";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "new.h5"));
}

TEST_F(Hdf5DriverTest, ExistsForPathsIntoHdf5Files) {
  const auto v = Volume<uint8_t>();
  WriteHdf5(file_, "/volumes/raw", Hdf5Spec{.dims = {7, 11, 13}}, v.data());
  EXPECT_TRUE(Dataset::Exists(file_ + "/volumes/raw"));
  EXPECT_FALSE(Dataset::Exists((dir_ / "other.h5" / "raw").string()));
}

}  // namespace
}  // namespace volbatch
