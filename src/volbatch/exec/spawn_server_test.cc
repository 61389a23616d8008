// When the pool does not use a spawn server, and exec's its workers instead. Workers started
// through one (no shared library opened, their command lines, output bytes) are tested end to
// end in tests/engine/test_workers.py, with the volbatch executable, which serves spawns.
#include "volbatch/exec/spawn_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace volbatch {
namespace {

int Entry(int, char**) { return 0; }

std::string SelfExe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

TEST(SpawnServer, NoneWhenTheProgramDidNotDeclareOne) {
  // As in the Python module: its process is python3, not volbatch.
  EXPECT_EQ(SpawnServer::Start(SelfExe(), 256), nullptr);
}

TEST(SpawnServer, NoneForAnotherExecutable) {
  DeclareSpawnServer(Entry);
  EXPECT_EQ(SpawnServer::Start("/bin/true", 256), nullptr);
  EXPECT_EQ(SpawnServer::Start("/no/such/volbatch", 256), nullptr);
  DeclareSpawnServer(nullptr);
}

TEST(SpawnServer, NoneWhenTurnedOff) {
  DeclareSpawnServer(Entry);
  ::setenv("VOLBATCH_SPAWN_SERVER", "0", 1);
  EXPECT_EQ(SpawnServer::Start(SelfExe(), 256), nullptr);
  ::unsetenv("VOLBATCH_SPAWN_SERVER");
  DeclareSpawnServer(nullptr);
}

TEST(SpawnServer, RecognizesItsCommand) {
  char exe[] = "volbatch", server[] = "spawn-server", work[] = "work";
  char* as_server[] = {exe, server, nullptr};
  char* as_worker[] = {exe, work, nullptr};
  EXPECT_TRUE(IsSpawnServerCommand(2, as_server));
  EXPECT_FALSE(IsSpawnServerCommand(2, as_worker));
  EXPECT_FALSE(IsSpawnServerCommand(1, as_server));
}

}  // namespace
}  // namespace volbatch
