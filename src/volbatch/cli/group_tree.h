// `volbatch info` on an N5 or Zarr group (a container root or a subgroup on the filesystem):
// what it holds as a tree, each array with its shape, dtype, chunks, codecs and bytes stored,
// OME-Zarr and N5 multiscale levels named as such. Cost: one directory listing and a metadata
// read per node, and for each array the walk over its files that `info` on it makes.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace volbatch {

// nullopt if `path` is not a local directory holding group metadata (an array, a URL, ...).
std::optional<nlohmann::json> DescribeDirectoryGroup(const std::string& path);

}  // namespace volbatch
