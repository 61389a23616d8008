#include "volbatch/ops/plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPrefix = "libvolbatch_op_";
constexpr const char* kSuffix = ".so";

std::string ExeDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

// The directory of the shared library this code is in (libvolbatch_ops.so). A process that is
// not volbatch, python3 importing the bindings, has /proc/self/exe elsewhere; an installed
// Python package keeps its plugins beside the library, and so does the build tree.
std::string LibraryDir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&OperatorPluginDirs), &info) == 0 ||
      info.dli_fname == nullptr) {
    return {};
  }
  std::error_code ec;
  const fs::path lib = fs::canonical(info.dli_fname, ec);
  return ec ? std::string() : lib.parent_path().string();
}

bool ValidType(const std::string& type) {
  if (type.empty() || type.size() > 64) return false;
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> OperatorPluginDirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("VOLBATCH_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      const size_t end = std::min(list.find(':', start), list.size());
      if (end > start) dirs.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  const std::string exe = ExeDir();
  if (!exe.empty()) {
    dirs.push_back(exe);
    dirs.push_back((fs::path(exe) / ".." / "lib" / "volbatch").lexically_normal().string());
  }
  const std::string lib = LibraryDir();
  if (!lib.empty() && std::find(dirs.begin(), dirs.end(), lib) == dirs.end()) dirs.push_back(lib);
  return dirs;
}

std::vector<std::string> AvailableOperatorPlugins() {
  std::set<std::string> types;
  for (const auto& dir : OperatorPluginDirs()) {
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

void* OpenPluginLibrary(const std::string& file, const std::string& what) {
  for (const auto& dir : OperatorPluginDirs()) {
    const fs::path path = fs::path(dir) / file;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    // RTLD_LOCAL keeps a plugin's own dependencies' symbols (LibTorch's, MPI's) out of the
    // global scope; its dependencies on the volbatch layers resolve to the copies already
    // loaded, so it registers into this process's registries.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      throw Unsupported(what + ": cannot load " + path.string() + ": " +
                        (why ? why : "unknown error"));
    }
    return handle;
  }
  return nullptr;
}

bool LoadOperatorPlugin(const std::string& type) {
  static std::mutex mu;
  static std::map<std::string, bool> loaded;
  std::lock_guard lock(mu);
  if (auto it = loaded.find(type); it != loaded.end()) return it->second;
  if (!ValidType(type)) return loaded[type] = false;
  const std::string what = "[operator] type \"" + type + "\"";
  void* handle = OpenPluginLibrary(kPrefix + type + kSuffix, what);
  if (!handle) return loaded[type] = false;
  using Entry = void (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, "volbatch_register_operators"));
  if (!entry) {
    throw Unsupported(what + ": " + kPrefix + type + kSuffix +
                      " has no volbatch_register_operators()");
  }
  entry();
  return loaded[type] = true;
}

}  // namespace volbatch
