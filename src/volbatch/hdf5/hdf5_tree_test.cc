#include "volbatch/hdf5/hdf5_tree.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "volbatch/hdf5/hdf5_test_util.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using testing::Hdf5Spec;

TEST(Hdf5Tree, ListsGroupsAndArraysWithTheirStorage) {
  const fs::path dir = fs::temp_directory_path() / ("vb_h5tree_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = (dir / "cremi.hdf").string();
  std::vector<uint64_t> ids(6 * 8 * 8, 7);
  testing::WriteHdf5(file, "/volumes/labels/neuron_ids",
                     Hdf5Spec{.file_type = H5T_STD_U64LE,
                              .mem_type = H5T_NATIVE_UINT64,
                              .dims = {6, 8, 8},
                              .chunks = std::vector<hsize_t>{3, 8, 8},
                              .gzip = 6},
                     ids.data());
  testing::WriteHdf5(file, "/volumes/raw", Hdf5Spec{.dims = {6, 8, 8}}, nullptr);
  testing::WriteHdf5Attribute(file, "/volumes/raw", "resolution", H5T_IEEE_F64LE, {40, 4, 4});

  const auto tree = Hdf5GroupTree({file, "/"});
  ASSERT_TRUE(tree);
  EXPECT_EQ((*tree)["kind"], "group");
  EXPECT_EQ((*tree)["format"], "hdf5");
  const auto& volumes = (*tree)["children"][0];
  EXPECT_EQ(volumes["path"], "/volumes");
  const auto& labels = volumes["children"][0]["children"][0];
  EXPECT_EQ(labels["path"], "/volumes/labels/neuron_ids");
  EXPECT_EQ(labels["dtype"], "uint64");
  EXPECT_EQ(labels["shape"], nlohmann::json({6, 8, 8}));
  EXPECT_EQ(labels["chunks"], nlohmann::json({3, 8, 8}));
  EXPECT_EQ(labels["codecs"], "gzip(level=6)");
  EXPECT_GT(labels["stored_bytes"].get<int64_t>(), 0);
  EXPECT_LT(labels["stored_bytes"].get<int64_t>(), 6 * 8 * 8 * 8);  // compressed
  const auto& raw = volumes["children"][1];
  EXPECT_EQ(raw["layout"], "contiguous");
  EXPECT_TRUE(raw["chunks"].is_null());
  EXPECT_EQ(raw["attributes"]["resolution"], nlohmann::json({40.0, 4.0, 4.0}));
  // A dataset is no group.
  EXPECT_FALSE(Hdf5GroupTree({file, "/volumes/raw"}));
  EXPECT_EQ(Hdf5GroupTree({file, "/volumes/labels"}).value()["children"].size(), 1u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace volbatch
