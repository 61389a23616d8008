#include "volbatch/cli/info.h"

#include <fmt/format.h>

#include <filesystem>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"

namespace volbatch {
namespace fs = std::filesystem;

StorageFootprint MeasureFootprint(const Dataset& ds) {
  StorageFootprint f;
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
  if (files < 0) {
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

}  // namespace volbatch
