// OmeLevel: where OME-NGFF multiscales metadata (0.5 "ome"."multiscales", 0.4 "multiscales") of
// a group describes one of its arrays; read by the job's axes and by the pyramid's voxel size.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace volbatch {

struct OmeLevel {
  const nlohmann::json* multiscale = nullptr;  // the entry ("axes", "datasets", ...)
  const nlohmann::json* dataset = nullptr;     // its "datasets" item with "path" == the name
};

// The first multiscales entry of group attributes `attrs` listing dataset `name`; nulls when
// none does. Pointers into `attrs`.
OmeLevel FindOmeLevel(const nlohmann::json& attrs, const std::string& name);

}  // namespace volbatch
