// HDF5 element types and volbatch's DataType: the integer and float classes map (either byte
// order: libhdf5 converts to native order as it reads); compound, string, variable-length,
// enum, array, reference, opaque and bitfield types are refused with their class named.
#pragma once

#include <hdf5.h>

#include <string>

#include "volbatch/core/dtype.h"

namespace volbatch {

// The DataType of an HDF5 type; throws Unsupported naming `where` and the type's class.
DataType DataTypeOfHdf5(hid_t type, const std::string& where);
// The native memory type H5Dread converts into (a libhdf5 constant: not to be closed).
hid_t NativeHdf5Type(DataType t);
// "little", "big" or "" (no order: one byte, or not a number).
std::string Hdf5ByteOrder(hid_t type);
// "compound", "string", ... for messages and `info`.
std::string Hdf5ClassName(hid_t type);

}  // namespace volbatch
