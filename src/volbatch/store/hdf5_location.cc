#include "volbatch/store/hdf5_location.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "volbatch/core/error.h"
#include "volbatch/core/plugin_library.h"
#include "volbatch/kvstore/location.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

constexpr std::array<char, 8> kSignature = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

std::optional<Hdf5Api>& Registered() {
  static std::optional<Hdf5Api> api;
  return api;
}

std::mutex& RegisteredMutex() {
  static std::mutex m;
  return m;
}

}  // namespace

bool HasHdf5Signature(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool found = false;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    // The superblock sits at 0 or after a user block of 512, 1024, 2048, ... bytes.
    for (off_t at = 0; !found && at + 8 <= st.st_size; at = at == 0 ? 512 : at * 2) {
      std::array<char, 8> got{};
      if (::pread(fd, got.data(), got.size(), at) != static_cast<ssize_t>(got.size())) break;
      found = got == kSignature;
    }
  }
  ::close(fd);
  return found;
}

std::optional<Hdf5Location> FindHdf5Location(const std::string& path) {
  if (IsUrl(path)) return std::nullopt;
  std::string at = AbsoluteLocation(path);
  std::string inner;  // what follows `at` in `path`, '/'-separated
  while (true) {
    std::error_code ec;
    const fs::file_status status = fs::status(at, ec);
    if (status.type() == fs::file_type::regular) {
      if (HasHdf5Signature(at)) return Hdf5Location{at, "/" + inner};
      if (inner.empty()) return std::nullopt;  // the path itself: not a dataset of any kind
      throw InvalidArgument(at + ": not an HDF5 file (no HDF5 signature), so it holds no /" +
                            inner);
    }
    if (status.type() != fs::file_type::not_found) return std::nullopt;
    auto [parent, name] = SplitLocation(at);
    if (name.empty() || parent == at) return std::nullopt;
    inner = inner.empty() ? name : name + "/" + inner;
    at = parent;
  }
}

bool HasHdf5Name(const std::string& path) {
  fs::path prefix;
  for (const auto& part : fs::path(path)) {
    prefix /= part;
    const std::string ext = part.extension().string();
    if (ext != ".h5" && ext != ".hdf5" && ext != ".hdf" && ext != ".he5") continue;
    std::error_code ec;
    if (!fs::is_directory(prefix, ec)) return true;  // a directory so named is no HDF5 file
  }
  return false;
}

void RefuseHdf5Write(const std::string& path) {
  if (IsUrl(path)) return;
  bool inside = HasHdf5Name(path);
  if (!inside) {
    try {
      inside = FindHdf5Location(path).has_value();
    } catch (const Error&) {
      // Inside a file that is not HDF5: the write fails on its own, naming the path.
    }
  }
  if (inside) {
    throw Unsupported(path +
                      ": volbatch reads HDF5 but does not write it; write a .zarr or .n5 "
                      "dataset instead");
  }
}

void RegisterHdf5Api(Hdf5Api api) {
  std::lock_guard lock(RegisteredMutex());
  Registered() = std::move(api);
}

const Hdf5Api& LoadHdf5Api(const Hdf5Location& where) {
  {
    std::lock_guard lock(RegisteredMutex());
    if (Registered()) return *Registered();
  }
  LoadPlugin("libvolbatch_format_hdf5.so", "volbatch_register_hdf5", where.file);
  std::lock_guard lock(RegisteredMutex());
  if (!Registered()) {
    throw Unsupported(where.Describe() +
                      ": reading HDF5 needs the plugin libvolbatch_format_hdf5.so, which is not "
                      "installed (searched $VOLBATCH_PLUGIN_PATH and beside volbatch)");
  }
  return *Registered();
}

}  // namespace volbatch
