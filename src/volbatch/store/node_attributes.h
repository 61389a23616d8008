// Attributes of a node (a group or an array) in any of the three formats, read and updated in
// place. Zarr v2 keeps them in .zattrs, Zarr v3 in zarr.json's "attributes", N5 at the top
// level of attributes.json beside the dataset's own keys (dimensions, blockSize, ...). An update
// rewrites that one small JSON file atomically (temporary, fsync, rename): a reader sees the
// old attributes or the new ones, never half; keys not in the patch are kept, in their order.
// A node inside an HDF5 file is read (its HDF5 attributes) but not updated.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace volbatch {

// The node's attributes ({} when it has none). Throws NotFound if `node_path` holds no group
// or array metadata of any format, InvalidArgument (naming the file) if it is not JSON.
nlohmann::json ReadNodeAttributes(const std::string& node_path);

// Sets each top-level key of `patch` (an object; a null value erases the key). N5's structural
// keys cannot be set (InvalidArgument naming the key).
void UpdateNodeAttributes(const std::string& node_path, const nlohmann::json& patch);

}  // namespace volbatch
