#include "volbatch/ops/plugin.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "volbatch/core/plugin_library.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPrefix = "libvolbatch_op_";
constexpr const char* kSuffix = ".so";

bool ValidType(const std::string& type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// An operator plugin may bring an OpenMP runtime (LibTorch's libgomp), which reads its
// settings once, when it is loaded. By default its idle threads spin for a while after every
// parallel region; between a model's operations, and while the batch is being gathered and
// blended, they would take the cores volbatch's own read, blend and write threads need (the
// instant-model window path ran at 0.5x with spinning threads here). A user's own setting wins.
void PreferSleepingOpenMpThreads() {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  }
}

}  // namespace

std::vector<std::string> AvailableOperatorPlugins() {
  std::set<std::string> types;
  for (const auto& dir : PluginDirs()) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const std::string prefix = kPrefix, suffix = kSuffix;
      if (name.size() > prefix.size() + suffix.size() && name.starts_with(prefix) &&
          name.ends_with(suffix)) {
        types.insert(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
      }
    }
  }
  return {types.begin(), types.end()};
}

bool LoadOperatorPlugin(const std::string& type) {
  if (!ValidType(type)) return false;
  PreferSleepingOpenMpThreads();
  return LoadPlugin(kPrefix + type + kSuffix, "volbatch_register_operators",
                    "[operator] type \"" + type + "\"");
}

}  // namespace volbatch
