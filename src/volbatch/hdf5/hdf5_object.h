// Opening an object (group or dataset) inside an HDF5 file, read-only, with errors that name
// the file and the path inside it.
#pragma once

#include "volbatch/hdf5/hdf5_handle.h"
#include "volbatch/store/hdf5_location.h"

namespace volbatch {

struct Hdf5Object {
  Hid file;
  Hid object;                   // closed before the file (declared after it)
  H5I_type_t type = H5I_BADID;  // H5I_GROUP, H5I_DATASET or H5I_DATATYPE
};

// Throws InvalidArgument if the file is not HDF5 after all, NotFound naming the file and the
// path when some component of where.object does not exist. Datasets open with `dapl`.
Hdf5Object OpenHdf5Object(const Hdf5Location& where, hid_t dapl = H5P_DEFAULT);

}  // namespace volbatch
