#include "volbatch/engine/ome_level.h"

namespace volbatch {

OmeLevel FindOmeLevel(const nlohmann::json& attrs, const std::string& name) {
  const nlohmann::json* ome =
      attrs.contains("ome") && attrs["ome"].is_object() ? &attrs["ome"] : nullptr;
  for (const nlohmann::json* ms :
       {ome && ome->contains("multiscales") ? &(*ome)["multiscales"] : nullptr,
        attrs.contains("multiscales") ? &attrs["multiscales"] : nullptr}) {
    if (!ms || !ms->is_array()) continue;
    for (const auto& m : *ms) {
      if (!m.is_object() || !m.contains("datasets") || !m["datasets"].is_array()) continue;
      for (const auto& d : m["datasets"]) {
        if (d.is_object() && d.value("path", nlohmann::json()) == name) return {&m, &d};
      }
    }
  }
  return {};
}

}  // namespace volbatch
