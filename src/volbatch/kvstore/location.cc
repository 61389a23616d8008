#include "volbatch/kvstore/location.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "volbatch/core/error.h"
#include "volbatch/core/plugin_library.h"

namespace volbatch {
namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, KvStoreOpener>& Registry() {
  static std::map<std::string, KvStoreOpener> openers;
  return openers;
}

std::optional<KvStoreOpener> FindOpener(const std::string& scheme) {
  std::lock_guard lock(RegistryMutex());
  auto it = Registry().find(scheme);
  if (it == Registry().end()) return std::nullopt;
  return it->second;
}

std::string KnownSchemes() {
  std::lock_guard lock(RegistryMutex());
  std::string known = "file";
  for (const auto& [name, opener] : Registry()) known += ", " + name;
  return known;
}

size_t SchemeEnd(std::string_view location) {
  const size_t colon = location.find("://");
  if (colon == std::string_view::npos || colon == 0) return std::string_view::npos;
  if (!std::isalpha(static_cast<unsigned char>(location[0]))) return std::string_view::npos;
  for (size_t i = 1; i < colon; ++i) {
    const char c = location[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::string_view::npos;
    }
  }
  return colon;
}

}  // namespace

bool IsUrl(std::string_view location) { return SchemeEnd(location) != std::string_view::npos; }

std::string UrlScheme(std::string_view location) {
  const size_t end = SchemeEnd(location);
  if (end == std::string_view::npos) return {};
  std::string scheme(location.substr(0, end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme;
}

void RegisterKvStoreScheme(const std::string& scheme, KvStoreOpener opener) {
  std::lock_guard lock(RegistryMutex());
  Registry()[scheme] = std::move(opener);
}

std::shared_ptr<KvStore> OpenKvStore(const std::string& location,
                                     const FileStoreOptions& file_options) {
  const std::string scheme = UrlScheme(location);
  if (scheme.empty()) return OpenFileStore(location, file_options);
  if (scheme == "file") {
    const std::string path = location.substr(std::string("file://").size());
    if (path.empty() || path[0] != '/') {
      throw InvalidArgument(location + ": a file URL needs an absolute path (file:///data/raw.n5)");
    }
    return OpenFileStore(path, file_options);
  }
  std::optional<KvStoreOpener> opener = FindOpener(scheme);
  if (!opener && LoadPlugin("libvolbatch_kv_remote.so", "volbatch_register_kvstores", location)) {
    opener = FindOpener(scheme);
  }
  if (!opener) {
    throw InvalidArgument(location + ": unknown scheme \"" + scheme +
                          "\" (known: " + KnownSchemes() + ")");
  }
  return (*opener)(location);
}

std::string AbsoluteLocation(std::string_view location) {
  if (IsUrl(location)) {
    std::string s(location);
    while (s.size() > 1 && s.back() == '/' && !s.ends_with("://")) s.pop_back();
    return s;
  }
  std::string s =
      std::filesystem::absolute(std::filesystem::path(location)).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string JoinLocation(std::string_view location, std::string_view relative) {
  std::string out(location);
  while (out.size() > 1 && out.back() == '/' && !out.ends_with("://")) out.pop_back();
  if (relative.empty()) return out;
  if (!out.empty() && out.back() != '/') out += '/';
  out += relative;
  return out;
}

std::pair<std::string, std::string> SplitLocation(std::string_view location) {
  std::string s(location);
  while (s.size() > 1 && s.back() == '/' && !s.ends_with("://")) s.pop_back();
  const size_t end = SchemeEnd(s);
  // A URL's first segment after the scheme is its host or bucket: never split off.
  const size_t root = end == std::string::npos ? 0 : s.find('/', end + 3);
  if (end != std::string::npos && root == std::string::npos) return {s, ""};
  const size_t slash = s.rfind('/');
  if (slash == std::string::npos || slash < root) return {".", s};
  if (slash == 0) return {"/", s.substr(1)};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

}  // namespace volbatch
