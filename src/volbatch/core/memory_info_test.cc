#include "volbatch/core/memory_info.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace volbatch {
namespace {
namespace fs = std::filesystem;

TEST(MemoryInfo, MemAvailableIsReadInBytes) {
  EXPECT_EQ(MemAvailableOf("MemTotal:       24000000 kB\nMemFree:  100 kB\n"
                           "MemAvailable:   23000000 kB\nBuffers: 5 kB\n"),
            int64_t{23000000} * 1024);
  EXPECT_EQ(MemAvailableOf("MemTotal: 1 kB\n"), 0);
  EXPECT_EQ(MemAvailableOf(""), 0);
}

TEST(MemoryInfo, CgroupLimitsLowerTheRoom) {
  const fs::path root = fs::temp_directory_path() / ("memory_info." + std::to_string(::getpid()));
  fs::remove_all(root);
  auto put = [&](const std::string& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  };
  const std::string r = root.string();
  // v2: a limit of 8 GiB with 3 GiB used leaves 5 GiB.
  put("job/memory.max", "8589934592\n");
  put("job/memory.current", "3221225472\n");
  EXPECT_EQ(CgroupRoomOf(r, "0::/job\n"), int64_t{5} << 30);
  // "max" is no limit; a missing file too.
  put("free/memory.max", "max\n");
  put("free/memory.current", "100\n");
  EXPECT_EQ(CgroupRoomOf(r, "0::/free\n"), -1);
  EXPECT_EQ(CgroupRoomOf(r, "0::/nowhere\n"), -1);
  // v1: the memory controller's own hierarchy; v1's "unlimited" is 2^63 - 4096.
  put("memory/slurm/limit/memory.limit_in_bytes", "2147483648\n");
  put("memory/slurm/limit/memory.usage_in_bytes", "1073741824\n");
  EXPECT_EQ(CgroupRoomOf(r, "12:cpu,cpuacct:/x\n7:memory:/slurm/limit\n"), int64_t{1} << 30);
  put("memory/open/memory.limit_in_bytes", "9223372036854771712\n");
  put("memory/open/memory.usage_in_bytes", "1\n");
  EXPECT_EQ(CgroupRoomOf(r, "7:memory:/open\n"), -1);
  // Used past the limit: no room, not a negative size.
  put("over/memory.max", "100\n");
  put("over/memory.current", "200\n");
  EXPECT_EQ(CgroupRoomOf(r, "0::/over\n"), 0);
  EXPECT_EQ(CgroupRoomOf(r, "0::/../etc\n"), -1);
  fs::remove_all(root);
}

TEST(MemoryInfo, ThisMachineHasSomeMemoryAvailable) {
  const int64_t b = AvailableMemoryBytes();
  EXPECT_GT(b, int64_t{16} << 20);
  EXPECT_LT(b, int64_t{1} << 50);
}

}  // namespace
}  // namespace volbatch
