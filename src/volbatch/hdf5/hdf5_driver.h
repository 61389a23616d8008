// The read-only format driver for one HDF5 dataset. Layout on disk is libhdf5's (chunked with
// a B-tree index, contiguous or compact). A chunked dataset's units are its chunks: with only
// deflate and shuffle filters (what h5py, CREMI and ilastik write) a chunk's stored bytes are
// read under the HDF5 lock and decoded outside it (hdf5_chunk_reader.h), so chunks decode on
// every core; with other filters a read is one H5Dread of a hyperslab straight into the
// caller's array, decompressed by libhdf5 under the lock (its 64 MiB chunk cache keeps a chunk
// read in parts from being decoded again). A contiguous dataset's units are slabs of whole
// rows of about 4 MiB, each one H5Dread of one contiguous range of the file. Every libhdf5
// call holds the HDF5 lock (hdf5_lock.h). VOLBATCH_HDF5_DIRECT_CHUNKS=0 reads every chunk with
// H5Dread (to measure what the lock costs: bench/storage --sections hdf5).
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
