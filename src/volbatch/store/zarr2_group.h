// Zarr v2 groups: a directory holding ".zgroup" = {"zarr_format": 2} (4-space indented JSON,
// as zarr-python writes it), optionally with ".zattrs".
#pragma once

#include <string>

#include "volbatch/kvstore/kvstore.h"

namespace volbatch {

// Makes the container root and every directory between it and the array at `key_in_root`
// ("a/b/arr": "", "a", "a/b") a Zarr v2 group. Existing .zgroup and .zattrs files are left as
// they are; a parent that is an array (has .zarray) is FailedPrecondition naming it.
void WriteZarr2ParentGroups(KvStore& root, const std::string& key_in_root);

// True if `kv` holds a Zarr v2 group at its root.
bool IsZarr2Group(const KvStore& kv);

}  // namespace volbatch
