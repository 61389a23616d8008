#include "volbatch/engine/input_axes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

std::string ErrorOf(const std::string& letters, size_t rank) {
  try {
    ParseInputAxes(letters, rank, "job.toml: [input] axes");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(InputAxes, BatchAxesThenChannelThenSpace) {
  InputAxes a = ParseInputAxes("tczyx", 5, "f");
  EXPECT_EQ(a.batch, 1u);
  EXPECT_TRUE(a.channels);
  EXPECT_EQ(a.BatchShape({3, 2, 8, 9, 10}), (Shape{3}));
  a = ParseInputAxes("ptzyx", 5, "f");
  EXPECT_EQ(a.batch, 2u);
  EXPECT_FALSE(a.channels);
  a = ParseInputAxes("tyx", 3, "f");  // a 2-D operator over every t
  EXPECT_EQ(a.batch, 1u);
  a = ParseInputAxes("zyx", 3, "f");
  EXPECT_EQ(a.batch, 0u);
  EXPECT_EQ(a.BatchShape({4, 5, 6}), Shape{});
}

TEST(InputAxes, BadLettersNameTheField) {
  EXPECT_NE(ErrorOf("tczyx", 4)
                .find("job.toml: [input] axes: \"tczyx\" has 5 letters; the "
                      "input has 4 axes"),
            std::string::npos);
  EXPECT_NE(ErrorOf("tzzyx", 5).find("repeats the letter z"), std::string::npos);
  EXPECT_NE(ErrorOf("tcab", 4).find("names no spatial axes"), std::string::npos);
  EXPECT_NE(ErrorOf("ctzyx", 5).find("puts t after c"), std::string::npos);
  EXPECT_NE(ErrorOf("zytx", 4).find("puts t after y"), std::string::npos);
  EXPECT_NE(ErrorOf("tzxy", 4).find("order z, y, x"), std::string::npos);
  EXPECT_NE(ErrorOf("tZyx", 4).find("lowercase letters"), std::string::npos);
  EXPECT_NE(ErrorOf("", 3).find("has 0 letters"), std::string::npos);
}

// An OME-Zarr image group whose multiscales name the axes of level "0".
class OmeAxes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("volbatch_input_axes_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "img.zarr");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void WriteAttrs(const std::string& json) {
    std::ofstream(dir_ / "img.zarr" / ".zgroup") << R"({"zarr_format": 2})";
    std::ofstream(dir_ / "img.zarr" / ".zattrs") << json;
  }
  std::string Level() const { return (dir_ / "img.zarr" / "0").string(); }
  std::filesystem::path dir_;
};

TEST_F(OmeAxes, ReadFromMultiscales) {
  WriteAttrs(R"({"multiscales": [{"version": "0.4", "axes": [
      {"name": "t", "type": "time"}, {"name": "c", "type": "channel"},
      {"name": "z", "type": "space"}, {"name": "y", "type": "space"},
      {"name": "x", "type": "space"}], "datasets": [{"path": "0"}]}]})");
  EXPECT_EQ(OmeAxesOf(Level()), "tczyx");
  const InputAxes a = ResolveInputAxes("", false, Level(), 5, "job.toml");
  EXPECT_EQ(a.batch, 1u);
  EXPECT_TRUE(a.channels);
  // The job's own axes win over the metadata's.
  EXPECT_EQ(ResolveInputAxes("abzyx", false, Level(), 5, "job.toml").batch, 2u);
}

TEST_F(OmeAxes, BatchTypesGetFreeLetters) {
  // A custom axis named like a role letter ("x") gets another letter; a bare 0.3 name list.
  WriteAttrs(R"({"multiscales": [{"axes": [{"name": "xtra", "type": "angle"},
      {"name": "time", "type": "time"}, {"name": "z", "type": "space"},
      {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
      "datasets": [{"path": "0"}]}]})");
  EXPECT_EQ(OmeAxesOf(Level()), "atzyx");
  WriteAttrs(R"({"multiscales": [{"axes": ["c", "z", "y", "x"], "datasets": [{"path": "0"}]}]})");
  EXPECT_EQ(OmeAxesOf(Level()), "czyx");
}

TEST_F(OmeAxes, UnusableMetadataIsNoAxes) {
  WriteAttrs(R"({"multiscales": [{"axes": [{"name": "x", "type": "space"},
      {"name": "y", "type": "space"}], "datasets": [{"path": "0"}]}]})");
  const InputAxes a = ResolveInputAxes("", false, Level(), 2, "job.toml");  // x before y
  EXPECT_EQ(a.letters, "");
  EXPECT_EQ(a.batch, 0u);
  WriteAttrs(R"({"multiscales": [{"axes": [{"name": "y", "type": "space"}],
      "datasets": [{"path": "other"}]}]})");
  EXPECT_EQ(OmeAxesOf(Level()), std::nullopt);
  EXPECT_EQ(OmeAxesOf((dir_ / "nowhere" / "0").string()), std::nullopt);
}

TEST_F(OmeAxes, ChannelsFlagMustAgreeWithGivenAxes) {
  try {
    ResolveInputAxes("tzyx", true, Level(), 4, "job.toml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("job.toml: [input] channels: true, but [input] axes "
                                         "\"tzyx\" has no channel axis c"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace volbatch
