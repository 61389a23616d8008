#include "volbatch/exec/command.h"

#include <gtest/gtest.h>

namespace volbatch {
namespace {

TEST(RunCommand, CapturesOutputErrorAndExit) {
  const CommandResult r = RunCommand({"sh", "-c", "cat; echo oops >&2; exit 3"}, "hello\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "oops\n");
  EXPECT_EQ(r.Describe("sh"), "sh: exit 3: oops");
}

TEST(RunCommand, LargeInputAndOutputDoNotDeadlock) {
  const std::string big(1 << 20, 'x');
  const CommandResult r = RunCommand({"cat"}, big);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), big.size());
}

TEST(RunCommand, AMissingProgramSaysSo) {
  const CommandResult r = RunCommand({"volbatch-no-such-program"});
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_NE(r.Describe("volbatch-no-such-program").find("cannot run it"), std::string::npos);
  EXPECT_FALSE(OnPath("volbatch-no-such-program"));
  EXPECT_TRUE(OnPath("sh"));
}

TEST(RunCommand, AHungProgramIsKilled) {
  const auto start = std::chrono::steady_clock::now();
  const CommandResult r = RunCommand({"sleep", "30"}, "", std::chrono::milliseconds(300));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace volbatch
