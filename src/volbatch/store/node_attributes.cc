#include "volbatch/store/node_attributes.h"

#include <array>
#include <filesystem>

#include "volbatch/core/error.h"
#include "volbatch/kvstore/kvstore.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/hdf5_location.h"

namespace volbatch {
namespace {

using ojson = nlohmann::ordered_json;

// Where a node keeps its attributes: a file, and for Zarr v3 a field inside it.
struct AttributesFile {
  std::string key;
  bool nested = false;  // zarr.json: under "attributes"
  bool n5 = false;
};

AttributesFile Locate(const KvStore& kv, const std::string& node_path) {
  if (kv.Get("zarr.json")) return {"zarr.json", true, false};
  if (kv.Get(".zarray") || kv.Get(".zgroup")) return {".zattrs", false, false};
  if (kv.Get("attributes.json")) return {"attributes.json", false, true};
  throw NotFound(node_path +
                 ": no group or array here (no zarr.json, .zgroup, .zarray or attributes.json)");
}

ojson ParseObject(const KvStore& kv, const std::string& key) {
  const auto bytes = kv.Get(key);
  if (!bytes) return ojson::object();
  ojson j;
  try {
    j = ojson::parse(reinterpret_cast<const char*>(bytes->data()),
                     reinterpret_cast<const char*>(bytes->data()) + bytes->size());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(kv.Describe(key) + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw InvalidArgument(kv.Describe(key) + ": must be a JSON object");
  return j;
}

constexpr std::array<const char*, 5> kN5Structure = {"dimensions", "blockSize", "dataType",
                                                     "compression", "n5"};

}  // namespace

nlohmann::json ReadNodeAttributes(const std::string& node_path) {
  if (!IsUrl(node_path) && !std::filesystem::is_directory(node_path)) {
    if (std::optional<Hdf5Location> where = FindHdf5Location(node_path)) {
      return LoadHdf5Api(*where).attributes(*where);
    }
  }
  const auto kv = OpenKvStore(node_path);
  const AttributesFile f = Locate(*kv, node_path);
  ojson doc = ParseObject(*kv, f.key);
  if (f.nested) {
    if (!doc.contains("attributes")) return nlohmann::json::object();
    if (!doc["attributes"].is_object()) {
      throw InvalidArgument(kv->Describe(f.key) + ": attributes must be an object");
    }
    return nlohmann::json::parse(doc["attributes"].dump());
  }
  if (f.n5) {
    for (const char* k : kN5Structure) doc.erase(k);
  }
  return nlohmann::json::parse(doc.dump());
}

void UpdateNodeAttributes(const std::string& node_path, const nlohmann::json& patch) {
  if (!patch.is_object()) {
    throw InvalidArgument(node_path + ": attributes to set must be a JSON object, got " +
                          patch.dump());
  }
  const auto kv = OpenKvStore(node_path);
  const AttributesFile f = Locate(*kv, node_path);
  ojson doc = ParseObject(*kv, f.key);
  ojson* attrs = &doc;
  if (f.nested) {
    if (!doc.contains("attributes")) doc["attributes"] = ojson::object();
    if (!doc["attributes"].is_object()) {
      throw InvalidArgument(kv->Describe(f.key) + ": attributes must be an object");
    }
    attrs = &doc["attributes"];
  }
  for (const auto& [k, v] : patch.items()) {
    if (f.n5) {
      for (const char* reserved : kN5Structure) {
        if (k == reserved) {
          throw InvalidArgument(kv->Describe(f.key) + ": attribute \"" + k +
                                "\" is reserved by N5");
        }
      }
    }
    if (v.is_null()) {
      attrs->erase(k);
    } else {
      (*attrs)[k] = ojson::parse(v.dump());
    }
  }
  const std::string text = doc.dump(2) + "\n";
  kv->Set(f.key, ByteView(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

}  // namespace volbatch
