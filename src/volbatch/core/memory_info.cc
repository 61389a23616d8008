#include "volbatch/core/memory_info.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace volbatch {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A non-negative decimal number at the start of `text`; -1 for "max", absent or garbage.
int64_t Number(const std::string& text) {
  int64_t v = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (text[i] - '0');
  }
  return i == 0 ? -1 : v;
}

int64_t Room(const std::string& limit_file, const std::string& usage_file) {
  const int64_t limit = Number(ReadSmallFile(limit_file));
  const int64_t usage = Number(ReadSmallFile(usage_file));
  // v1 reports "no limit" as a huge number (2^63 rounded to pages).
  if (limit < 0 || usage < 0 || limit >= (int64_t{1} << 60)) return -1;
  return std::max<int64_t>(0, limit - usage);
}

}  // namespace

int64_t MemAvailableOf(std::string_view meminfo) {
  const std::string_view key = "MemAvailable:";
  const size_t at = meminfo.find(key);
  if (at == std::string_view::npos) return 0;
  size_t i = at + key.size();
  while (i < meminfo.size() && meminfo[i] == ' ') ++i;
  const int64_t kib = Number(std::string(meminfo.substr(i, 24)));
  return kib < 0 ? 0 : kib * 1024;
}

int64_t CgroupRoomOf(const std::string& root, std::string_view self) {
  int64_t room = -1;
  auto lower = [&](int64_t r) {
    if (r >= 0) room = room < 0 ? r : std::min(room, r);
  };
  size_t line_start = 0;
  while (line_start < self.size()) {
    size_t end = self.find('\n', line_start);
    if (end == std::string_view::npos) end = self.size();
    const std::string_view line = self.substr(line_start, end - line_start);
    line_start = end + 1;
    // "hierarchy-ID:controllers:path"; v2 is "0::/path", v1 memory is "N:memory:/path".
    const size_t a = line.find(':'), b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    std::string path(line.substr(b + 1));
    if (path.find("..") != std::string::npos) continue;
    if (path == "/") path.clear();
    if (controllers.empty()) {
      lower(Room(root + path + "/memory.max", root + path + "/memory.current"));
    } else if (("," + std::string(controllers) + ",").find(",memory,") != std::string::npos) {
      lower(Room(root + "/memory" + path + "/memory.limit_in_bytes",
                 root + "/memory" + path + "/memory.usage_in_bytes"));
    }
  }
  return room;
}

int64_t AvailableMemoryBytes() {
  int64_t bytes = MemAvailableOf(ReadSmallFile("/proc/meminfo"));
  const int64_t room = CgroupRoomOf("/sys/fs/cgroup", ReadSmallFile("/proc/self/cgroup"));
  if (room >= 0 && bytes > 0) bytes = std::min(bytes, room);
  return bytes;
}

}  // namespace volbatch
