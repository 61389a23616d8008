// What an HDF5 group holds, as a tree for `volbatch info`: each group with its attributes and
// children, each dataset with shape, dtype, layout, chunks, filters and bytes stored. Cost:
// a few metadata calls per object, under the HDF5 lock; no data is read.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "volbatch/store/hdf5_location.h"

namespace volbatch {

// nullopt if where.object is a dataset; errors like OpenHdf5Object's.
std::optional<nlohmann::json> Hdf5GroupTree(const Hdf5Location& where);

}  // namespace volbatch
