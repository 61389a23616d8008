#include "volbatch/store/zarr2_group.h"

#include <nlohmann/json.hpp>

#include "volbatch/core/error.h"

namespace volbatch {

void WriteZarr2ParentGroups(KvStore& root, const std::string& key_in_root) {
  if (key_in_root.empty()) return;
  ValidateKey(key_in_root);
  const std::string doc = nlohmann::json{{"zarr_format", 2}}.dump(4);
  const ByteView bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  std::string prefix;  // "" then "a/" then "a/b/"
  size_t pos = 0;
  while (true) {
    if (root.Get(prefix + ".zarray")) {
      throw FailedPrecondition(root.Describe(prefix + ".zarray") +
                               ": a parent of the new array is itself a Zarr v2 array");
    }
    if (!root.Get(prefix + ".zgroup")) root.Set(prefix + ".zgroup", bytes);
    const size_t slash = key_in_root.find('/', pos);
    if (slash == std::string::npos) break;
    prefix = key_in_root.substr(0, slash + 1);
    pos = slash + 1;
  }
}

bool IsZarr2Group(const KvStore& kv) { return kv.Get(".zgroup").has_value(); }

}  // namespace volbatch
