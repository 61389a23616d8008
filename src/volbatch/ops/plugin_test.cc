#include "volbatch/ops/plugin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "volbatch/core/error.h"
#include "volbatch/core/plugin_library.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

class PluginPath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("volbatch_plugin_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    ::setenv("VOLBATCH_PLUGIN_PATH", ("/nonexistent:" + dir_.string()).c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("VOLBATCH_PLUGIN_PATH");
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(PluginPath, EnvironmentComesFirstThenTheExecutablesDirectory) {
  const auto dirs = PluginDirs();
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/nonexistent");
  EXPECT_EQ(dirs[1], dir_.string());
  EXPECT_EQ(dirs[2], fs::read_symlink("/proc/self/exe").parent_path().string());
}

TEST_F(PluginPath, AFileThatIsNotALibraryIsNamedInTheError) {
  std::ofstream(dir_ / "libvolbatch_op_broken.so") << "not an ELF file";
  const auto types = AvailableOperatorPlugins();
  EXPECT_NE(std::find(types.begin(), types.end(), "broken"), types.end());
  try {
    MakeOperator({{"type", "broken"}}, 3);
    FAIL() << "loaded a broken plugin";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[operator] type \"broken\": cannot load " +
                     (dir_ / "libvolbatch_op_broken.so").string()),
              std::string::npos)
        << m;
  }
}

TEST_F(PluginPath, UnknownTypesListBuiltinsAndPluginsAndDoNotProbePaths) {
  std::ofstream(dir_ / "libvolbatch_op_elsewhere.so") << "x";
  try {
    MakeOperator({{"type", "gausian"}}, 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("[operator] type: \"gausian\" is unknown"), std::string::npos) << m;
    EXPECT_NE(m.find("gaussian"), std::string::npos) << m;
    EXPECT_NE(m.find("elsewhere"), std::string::npos) << m;
  }
  // A type is a name, never a path: nothing outside the plugin directories is opened.
  EXPECT_FALSE(LoadOperatorPlugin("../../tmp/x"));
  EXPECT_FALSE(LoadOperatorPlugin(""));
}

}  // namespace
}  // namespace volbatch
