#include "volbatch/cli/group_tree.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "volbatch/cli/info.h"
#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/node_attributes.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Levels a group's attributes name, by child name: OME-NGFF multiscales (0.4: "multiscales";
// 0.5: "ome"."multiscales") and N5's "scales" with levels s0, s1, ...
std::map<std::string, std::string> MultiscaleLevels(const json& attrs) {
  std::map<std::string, std::string> levels;
  for (const json* ms :
       {attrs.contains("multiscales") ? &attrs["multiscales"] : nullptr,
        attrs.contains("ome") && attrs["ome"].is_object() && attrs["ome"].contains("multiscales")
            ? &attrs["ome"]["multiscales"]
            : nullptr}) {
    if (!ms || !ms->is_array()) continue;
    for (const auto& m : *ms) {
      if (!m.is_object() || !m.contains("datasets") || !m["datasets"].is_array()) continue;
      int k = 0;
      for (const auto& d : m["datasets"]) {
        if (d.is_object() && d.value("path", json()).is_string()) {
          levels[d["path"].get<std::string>()] = "OME-Zarr multiscale level " + std::to_string(k);
        }
        ++k;
      }
    }
  }
  if (attrs.contains("scales") && attrs["scales"].is_array()) {
    for (size_t k = 0; k < attrs["scales"].size(); ++k) {
      levels["s" + std::to_string(k)] = "N5 multiscale level " + std::to_string(k);
    }
  }
  return levels;
}

json DescribeArray(const std::string& path, const std::string& name) {
  const json d = DescribeDataset(Dataset::Open(path));
  json j = {{"kind", "array"},
            {"path", name},
            {"format", d["format"]},
            {"shape", d["shape"]},
            {"dtype", d["dtype"]},
            {"chunks", d["chunks"]},
            {"codecs", d["codecs"]},
            {"stored_bytes", d["stored_bytes"]},
            {"attributes", d.value("attributes", json::object())}};
  if (d.contains("shards")) j["shards"] = d["shards"];
  return j;
}

std::optional<json> Describe(const std::string& path, const std::string& name, int depth) {
  if (Dataset::Exists(path)) return DescribeArray(path, name);
  json attrs;
  try {
    attrs = ReadNodeAttributes(path);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return std::nullopt;  // no group here
    throw;
  }
  json j = {{"kind", "group"}, {"path", name}, {"attributes", attrs}};
  if (depth > 32) {
    j["note"] = "deeper groups not listed";
    return j;
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.is_directory(ec) && e.path().filename().string()[0] != '.') {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  const auto levels = MultiscaleLevels(attrs);
  json children = json::array();
  for (const auto& child : names) {
    std::optional<json> c = Describe((fs::path(path) / child).string(),
                                     name == "/" ? "/" + child : name + "/" + child, depth + 1);
    if (!c) continue;  // a directory holding no group or array (a job directory, ...)
    if (auto it = levels.find(child); it != levels.end()) (*c)["note"] = it->second;
    children.push_back(*c);
  }
  j["children"] = children;
  return j;
}

}  // namespace

std::optional<json> DescribeDirectoryGroup(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec) || Dataset::Exists(path)) return std::nullopt;
  std::optional<json> tree = Describe(path, "/", 0);
  if (tree) {
    (*tree)["file"] = fs::absolute(path).lexically_normal().string();
    (*tree)["format"] = "group";
  }
  return tree;
}

}  // namespace volbatch
