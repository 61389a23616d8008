// `volbatch info`: what a dataset is and what it costs on disk.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/store/dataset.h"

namespace volbatch {

struct StorageFootprint {
  int64_t files = 0;
  int64_t bytes = 0;  // stored bytes of every file under the dataset's directory
};
// -1 for what the store cannot tell: bytes when its listing has no sizes, both when it cannot
// list at all (HTTP).
StorageFootprint MeasureFootprint(const Dataset& ds);

// Dataset::Info plus the footprint and the compression ratio.
nlohmann::json DescribeDataset(const Dataset& ds);
std::string FormatDescription(const nlohmann::json& description);

// What a group holds, as a tree (each array with shape, dtype, chunks, codecs and bytes
// stored): an HDF5 file or a group inside one, or an N5 / Zarr group on the filesystem
// (group_tree.h); nullopt for an array or anything else.
std::optional<nlohmann::json> DescribeGroup(const std::string& path);
std::string FormatGroupTree(const nlohmann::json& tree);

}  // namespace volbatch
