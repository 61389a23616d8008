#include "volbatch/cli/info.h"

#include <fmt/format.h>

#include <filesystem>

#include "volbatch/cli/group_tree.h"
#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/hdf5_location.h"

namespace volbatch {
namespace fs = std::filesystem;

StorageFootprint MeasureFootprint(const Dataset& ds) {
  StorageFootprint f;
  if (std::optional<int64_t> stored = ds.driver().StoredBytes()) return {1, *stored};
  const std::string& path = ds.path();
  if (IsUrl(path)) {
    try {
      for (const auto& k : ds.kvstore().ListSizes("")) {
        ++f.files;
        if (k.size < 0) {
          f.bytes = -1;
        } else if (f.bytes >= 0) {
          f.bytes += k.size;
        }
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      return {-1, -1};  // HTTP lists nothing
    }
    return f;
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      ++f.files;
      f.bytes += static_cast<int64_t>(it->file_size(ec));
    }
  }
  return f;
}

nlohmann::json DescribeDataset(const Dataset& ds) {
  nlohmann::json j = ds.Info();
  const StorageFootprint f = MeasureFootprint(ds);
  const double raw = static_cast<double>(NumElements(ds.shape())) * ByteSize(ds.dtype());
  j["stored_files"] = f.files;
  j["stored_bytes"] = f.bytes;
  j["uncompressed_bytes"] = raw;
  j["compression_ratio"] = f.bytes > 0 ? raw / static_cast<double>(f.bytes) : 0.0;
  return j;
}

static std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (b >= 1024 && u < 5) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

std::string FormatDescription(const nlohmann::json& j) {
  std::string s;
  s += fmt::format("path:        {}\n", j["path"].get<std::string>());
  s += fmt::format("format:      {}\n", j["format"].get<std::string>());
  s += fmt::format("shape:       {}\n", j["shape"].dump());
  s += fmt::format("dtype:       {}\n", j["dtype"].get<std::string>());
  s += fmt::format("chunks:      {}\n", j["chunks"].dump());
  if (j.contains("shards")) s += fmt::format("shards:      {}\n", j["shards"].dump());
  s += fmt::format("fill value:  {}\n", j["fill_value"].dump());
  s += fmt::format("codecs:      {}\n", j["codecs"].get<std::string>());
  const int64_t files = j["stored_files"].get<int64_t>();
  const std::string what = IsUrl(j["path"].get<std::string>()) ? "objects" : "files";
  if (j["format"] == "hdf5") {
    s += fmt::format("stored:      {} in its HDF5 file ({} uncompressed, ratio {:.2f})\n",
                     HumanBytes(j["stored_bytes"].get<double>()),
                     HumanBytes(j["uncompressed_bytes"].get<double>()),
                     j["compression_ratio"].get<double>());
  } else if (files < 0) {
    s += fmt::format("stored:      not listed (the store cannot list; {} uncompressed)\n",
                     HumanBytes(j["uncompressed_bytes"].get<double>()));
  } else if (j["stored_bytes"].get<int64_t>() < 0) {
    s += fmt::format("stored:      {} {} ({} uncompressed)\n", files, what,
                     HumanBytes(j["uncompressed_bytes"].get<double>()));
  } else {
    s += fmt::format("stored:      {} in {} {} ({} uncompressed, ratio {:.2f})\n",
                     HumanBytes(j["stored_bytes"].get<double>()), files, what,
                     HumanBytes(j["uncompressed_bytes"].get<double>()),
                     j["compression_ratio"].get<double>());
  }
  if (j.contains("notes")) {
    for (const auto& n : j["notes"]) s += fmt::format("note:        {}\n", n.get<std::string>());
  }
  if (j.contains("attributes") && j["attributes"].is_object() && !j["attributes"].empty()) {
    s += fmt::format("attributes:  {}\n", j["attributes"].dump());
  }
  return s;
}

std::optional<nlohmann::json> DescribeGroup(const std::string& path) {
  std::error_code ec;
  if (IsUrl(path)) return std::nullopt;
  if (fs::is_directory(path, ec)) return DescribeDirectoryGroup(path);
  std::optional<Hdf5Location> where = FindHdf5Location(path);
  if (!where) return std::nullopt;
  return LoadHdf5Api(*where).group_tree(*where);
}

namespace {

std::string TreeName(const nlohmann::json& node) {
  const std::string path = node.value("path", "");
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void FormatNode(const nlohmann::json& node, int depth, std::string* out) {
  const std::string indent(static_cast<size_t>(2 * depth), ' ');
  const std::string kind = node.value("kind", "");
  if (kind == "group") {
    *out += fmt::format("{}{}/", indent, TreeName(node));
  } else if (kind == "array") {
    const nlohmann::json& chunks = node["chunks"];
    *out += fmt::format(
        "{}{}  {} {}  {}  {}  {} stored", indent, TreeName(node), node["dtype"].get<std::string>(),
        node["shape"].dump(),
        chunks.is_null()
            ? node.value("layout", "")
            : "chunks " + chunks.dump() +
                  (node.contains("shards") ? " in shards " + node["shards"].dump() : ""),
        node.value("codecs", ""), HumanBytes(node.value("stored_bytes", 0.0)));
  } else {
    *out += fmt::format("{}{}  ({})", indent, TreeName(node), kind);
  }
  if (node.contains("note")) *out += fmt::format("  [{}]", node["note"].get<std::string>());
  const nlohmann::json attrs = node.value("attributes", nlohmann::json::object());
  if (attrs.is_object() && !attrs.empty()) *out += "  " + attrs.dump();
  *out += "\n";
  for (const auto& child : node.value("children", nlohmann::json::array())) {
    FormatNode(child, depth + 1, out);
  }
}

}  // namespace

std::string FormatGroupTree(const nlohmann::json& tree) {
  std::string s = fmt::format("{} ({})\n", tree.value("file", ""), tree.value("format", ""));
  FormatNode(tree, 0, &s);
  return s;
}

}  // namespace volbatch
