// The tta keys of a torch [operator] table: what ParseModelSpec accepts, refuses (one line
// naming the key) and records in the job's identity.
#include "volbatch/model/model_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

// ParseModelSpec needs the model file to exist; it does not read it.
class ModelSpecTta : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("volbatch_model_spec_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    model_ = (dir_ / "m.pt").string();
    std::ofstream(model_) << "not read";
  }
  void TearDown() override { fs::remove_all(dir_); }

  ModelSpec Parse(nlohmann::json table, size_t rank = 3) {
    table["model"] = model_;
    if (!table.contains("window")) table["window"] = Shape(rank, 8);
    OperatorParams p(table, rank);
    return ParseModelSpec(p);
  }

  // The one-line message ParseModelSpec throws for `table`.
  std::string Refusal(const nlohmann::json& table, size_t rank = 3) {
    try {
      Parse(table, rank);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      return m;
    }
    ADD_FAILURE() << "accepted " << table.dump();
    return "";
  }

  fs::path dir_;
  std::string model_;
};

TEST_F(ModelSpecTta, OffByDefaultAndAbsentFromTheIdentity) {
  const ModelSpec m = Parse({});
  EXPECT_EQ(m.tta, "none");
  EXPECT_TRUE(m.tta_axes.empty());
  // Jobs without tta keep the fingerprint they had before the key existed.
  EXPECT_FALSE(m.ToJson().contains("tta"));
  EXPECT_FALSE(m.ToJson().contains("tta_axes"));
  EXPECT_EQ(Parse({{"tta", "none"}}).ToJson(), m.ToJson());
}

TEST_F(ModelSpecTta, FlipsEveryAxisByDefault) {
  const ModelSpec m = Parse({{"tta", "flips"}});
  EXPECT_EQ(m.tta_axes, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(m.ToJson()["tta"], "flips");
  EXPECT_EQ(m.ToJson()["tta_axes"], (nlohmann::json{"z", "y", "x"}));
}

TEST_F(ModelSpecTta, AxesByNameInAxisOrder) {
  const ModelSpec m = Parse({{"tta", "flips"}, {"tta_axes", {"x", "y"}}});
  EXPECT_EQ(m.tta_axes, (std::vector<size_t>{1, 2}));
  // The same job however the list is ordered.
  EXPECT_EQ(m.ToJson(), Parse({{"tta", "flips"}, {"tta_axes", {"y", "x"}}}).ToJson());
  EXPECT_NE(m.ToJson(), Parse({{"tta", "flips"}}).ToJson());
  // A 2-D volume's axes are y and x.
  EXPECT_EQ(Parse({{"tta", "flips"}, {"tta_axes", {"x"}}}, 2).tta_axes, (std::vector<size_t>{1}));
  EXPECT_EQ(AxisNames(2), (std::vector<std::string>{"y", "x"}));
}

TEST_F(ModelSpecTta, ScaledWindowsFlip) {
  // Per-axis up- and down-scales keep the windows centred, so flips apply.
  const ModelSpec up =
      Parse({{"tta", "flips"}, {"window", {4, 8, 8}}, {"scale", {4, 1, 1}}, {"crop", {4, 1, 1}}});
  EXPECT_EQ(up.tta_axes, (std::vector<size_t>{0, 1, 2}));
  const ModelSpec down = Parse({{"tta", "flips"}, {"window", {8, 8, 8}}, {"scale", {1, 0.5, 0.5}}});
  EXPECT_EQ(down.tta_axes, (std::vector<size_t>{0, 1, 2}));
}

TEST_F(ModelSpecTta, SkipsAxesWhereTheWindowIsOneVoxel) {
  // A 2-D model over a stack: flipping z would predict every window twice for nothing.
  EXPECT_EQ(Parse({{"tta", "flips"}, {"window", {1, 16, 16}}}).tta_axes,
            (std::vector<size_t>{1, 2}));
  // One input slice but four output slices (scale 4 in z): z flips the output.
  EXPECT_EQ(Parse({{"tta", "flips"}, {"window", {1, 16, 16}}, {"scale", {4, 1, 1}}}).tta_axes,
            (std::vector<size_t>{0, 1, 2}));
}

TEST_F(ModelSpecTta, Refusals) {
  EXPECT_EQ(Refusal({{"tta", "rotations"}}),
            "[operator] tta: \"rotations\" is not one of none, flips");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", {"y", "w"}}}),
            "[operator] tta_axes: \"w\" is not an axis of this volume (z, y, x)");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", {"z"}}}, 2),
            "[operator] tta_axes: \"z\" is not an axis of this volume (y, x)");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", {"x", "x"}}}),
            "[operator] tta_axes: \"x\" is named twice");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", nlohmann::json::array()}}),
            "[operator] tta_axes: must be a list of axis names (z, y, x), e.g. [\"y\", \"x\"]");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", "yx"}}),
            "[operator] tta_axes: must be a list of axis names (z, y, x), e.g. [\"y\", \"x\"]");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", {2}}}),
            "[operator] tta_axes: 2 is not an axis of this volume (z, y, x)");
  EXPECT_EQ(Refusal({{"tta_axes", {"y", "x"}}}), "[operator] tta_axes: needs tta = \"flips\"");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"tta_axes", {"z", "y"}}, {"window", {1, 16, 16}}}),
            "[operator] tta_axes: \"z\": the window is 1 voxel along it (input and output), so a "
            "flip there changes nothing");
  EXPECT_EQ(Refusal({{"tta", "flips"}, {"window", {1, 1, 1}}}),
            "[operator] tta: the window is 1 voxel on every axis: flips change nothing");
  EXPECT_NE(Refusal({{"tta", 1}}).find("[operator] tta:"), std::string::npos);
}

}  // namespace
}  // namespace volbatch
