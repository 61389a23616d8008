// The lost-update contest: 2 processes x 4 threads write disjoint voxels of one chunk (and of one
// shard), each voxel by its own read-modify-write of the unit. With the unit lock no update is
// lost; the control without it loses updates, which shows the contest can fail.
#include "volbatch/store/unit_lock.h"

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"

extern char** environ;

namespace volbatch {
namespace {

namespace fs = std::filesystem;

constexpr int kProcesses = 2, kThreads = 4, kWriters = kProcesses * kThreads;
constexpr Index kSide = 16;  // one 16^3 unit: 4096 voxels, 512 per writer

fs::path TestDir(const std::string& name) {
  fs::path dir = fs::path(VOLBATCH_BINARY_DIR) / "test_tmp" / "unit_lock_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs the contest on a new array; returns the number of voxels whose update was lost.
int64_t Contest(const std::string& name, const std::string& format, bool sharded, bool lock) {
  const fs::path dir = TestDir(name);
  const std::string path = (dir / (format == "n5" ? "a.n5/x" : "a.zarr/x")).string();
  CreateOptions o;
  o.format = format;
  o.shape = {kSide, kSide, kSide};
  o.chunks = sharded ? Shape{8, 8, 8} : Shape{kSide, kSide, kSide};
  if (sharded) o.shards = Shape{kSide, kSide, kSide};
  o.codecs = nlohmann::json::array();
  Dataset::Create(path, o);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const std::string env =
        "VOLBATCH_CONTEST=" + path + "|" + std::to_string(p) + "|" + (lock ? "1" : "0");
    std::vector<std::string> envs = {env};
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe", filter = "--gtest_filter=UnitLockContest.Child";
    char* argv[] = {exe.data(), filter.data(), nullptr};
    pid_t pid = 0;
    EXPECT_EQ(::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()), 0);
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a contest process failed";
  }
  const Array a = Dataset::Open(path).Read(Box::FromShape({kSide, kSide, kSide}));
  int64_t lost = 0;
  const auto* v = reinterpret_cast<const uint8_t*>(a.data());
  for (Index i = 0; i < a.num_elements(); ++i) lost += v[i] != (i % kWriters) + 1 ? 1 : 0;
  return lost;
}

TEST(UnitLockContest, Child) {
  const char* spec = std::getenv("VOLBATCH_CONTEST");
  if (!spec) GTEST_SKIP() << "run by the contests below";
  const std::string s = spec;
  const std::string path = s.substr(0, s.find('|'));
  const int process = s[s.find('|') + 1] - '0';
  const bool lock = s.back() == '1';
  Dataset ds = Dataset::Open(path, {.sync = SyncMode::kDeferred, .lock_partial_writes = lock});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const int writer = process * kThreads + t;
      Array one(DataType::kUint8, {1, 1, 1});
      *reinterpret_cast<uint8_t*>(one.data()) = static_cast<uint8_t>(writer + 1);
      for (Index i = writer; i < kSide * kSide * kSide; i += kWriters) {
        ds.Write(Box({i / (kSide * kSide), i / kSide % kSide, i % kSide}, {1, 1, 1}), one);
      }
    });
  }
  for (auto& t : threads) t.join();
  ds.Sync();
}

TEST(UnitLockContest, NoUpdateIsLostInAChunk) {
  EXPECT_EQ(Contest("chunk_zarr2", "zarr2", false, true), 0);
  EXPECT_EQ(Contest("chunk_n5", "n5", false, true), 0);
}

TEST(UnitLockContest, NoUpdateIsLostInAShard) {
  EXPECT_EQ(Contest("shard", "zarr3", true, true), 0);
}

TEST(UnitLockContest, WithoutTheLockUpdatesAreLost) {
  // The control: the same contest without the lock. Lost updates are a race, so a few rounds
  // are allowed to show one; in practice the first loses hundreds.
  int64_t lost = 0;
  for (int round = 0; round < 5 && lost == 0; ++round) {
    lost = Contest("control_chunk", "zarr2", false, false) +
           Contest("control_shard", "zarr3", true, false);
  }
  EXPECT_GT(lost, 0);
  std::printf("control: %lld of %lld updates lost\n", static_cast<long long>(lost),
              static_cast<long long>(2 * kSide * kSide * kSide));
}

TEST(UnitLock, ExcludesAcrossThreadsAndReleasesOnDestruction) {
  const fs::path dir = TestDir("basic");
  std::atomic<int> inside{0}, max_inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        UnitLock lock(dir.string(), 7);
        const int n = ++inside;
        int m = max_inside.load();
        while (n > m && !max_inside.compare_exchange_weak(m, n)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_inside.load(), 1);
  // Another unit is not held by unit 7's lock.
  UnitLock a(dir.string(), 7);
  UnitLock b(dir.string(), 8);
  EXPECT_TRUE(fs::exists(dir / kUnitLockFile));
}

TEST(UnitLock, AMissingDirectoryIsAnIoErrorNamingTheFile) {
  try {
    UnitLock lock("/nonexistent/volbatch", 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/volbatch/.volbatch.lock"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace volbatch
