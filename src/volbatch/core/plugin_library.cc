#include "volbatch/core/plugin_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;

std::string ExeDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

// The directory of the shared library this code is in (libvolbatch_core.so). A process that is
// not volbatch, python3 importing the bindings, has /proc/self/exe elsewhere; an installed
// Python package keeps its plugins beside the library, and so does the build tree.
std::string LibraryDir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&PluginDirs), &info) == 0 ||
      info.dli_fname == nullptr) {
    return {};
  }
  std::error_code ec;
  const fs::path lib = fs::canonical(info.dli_fname, ec);
  return ec ? std::string() : lib.parent_path().string();
}

}  // namespace

std::vector<std::string> PluginDirs() {
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

void* OpenPluginLibrary(const std::string& file, const std::string& what) {
  for (const auto& dir : PluginDirs()) {
    const fs::path path = fs::path(dir) / file;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) continue;
    // RTLD_LOCAL keeps a plugin's own dependencies' symbols (LibTorch's, MPI's, curl's) out of
    // the global scope; its dependencies on the volbatch layers resolve to the copies already
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

bool LoadPlugin(const std::string& file, const std::string& entry, const std::string& what) {
  static std::mutex mu;
  static std::map<std::string, bool> loaded;
  std::lock_guard lock(mu);
  if (auto it = loaded.find(file); it != loaded.end()) return it->second;
  void* handle = OpenPluginLibrary(file, what);
  if (!handle) return loaded[file] = false;
  using Entry = void (*)();
  auto f = reinterpret_cast<Entry>(::dlsym(handle, entry.c_str()));
  if (!f) throw Unsupported(what + ": " + file + " has no " + entry + "()");
  f();
  return loaded[file] = true;
}

}  // namespace volbatch
