// The read-only format driver for one HDF5 dataset. Layout on disk is libhdf5's (chunked with
// a B-tree index, contiguous or compact); a read of part of a storage unit is one H5Dread of a
// hyperslab straight into the caller's array, converting byte order on the way. A chunked
// dataset's units are its chunks (libhdf5 decompresses each once per read, or once while it
// stays in the 64 MiB chunk cache); a contiguous one's are slabs of whole rows of about
// 4 MiB, each a single contiguous range of the file. Every libhdf5 call holds the HDF5 lock
// (hdf5_lock.h): reads of different units run one at a time.
#pragma once

#include <memory>

#include "volbatch/store/driver.h"
#include "volbatch/store/hdf5_location.h"

namespace volbatch {

// NotFound naming the file and path if it does not exist, InvalidArgument for a group,
// Unsupported for what volbatch cannot read (compound, string, variable-length types; scalar
// datasets; a filter this libhdf5 lacks).
std::shared_ptr<FormatDriver> OpenHdf5Driver(const Hdf5Location& where);

// The read unit of a dataset that has no chunks: whole rows along the fastest axes, as many of
// the slowest axis as fit in `target_bytes` (at least one element along each axis).
Shape Hdf5SlabShape(const Shape& shape, size_t element_size, int64_t target_bytes = 4 << 20);

}  // namespace volbatch
