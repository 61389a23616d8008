#include "volbatch/ops/plugin.h"

#include <cctype>
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
  return LoadPlugin(kPrefix + type + kSuffix, "volbatch_register_operators",
                    "[operator] type \"" + type + "\"");
}

}  // namespace volbatch
