#include "volbatch/hdf5/hdf5_dtype.h"

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_lock.h"

namespace volbatch {

std::string Hdf5ClassName(hid_t type) {
  auto lock = LockHdf5();
  if (H5Tis_variable_str(type) > 0) return "variable-length string";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "float";
    case H5T_TIME:
      return "time";
    case H5T_STRING:
      return "string";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_COMPOUND:
      return "compound";
    case H5T_REFERENCE:
      return "reference";
    case H5T_ENUM:
      return "enum";
    case H5T_VLEN:
      return "variable-length";
    case H5T_ARRAY:
      return "array";
    default:
      return "unknown";
  }
}

DataType DataTypeOfHdf5(hid_t type, const std::string& where) {
  auto lock = LockHdf5();
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1:
        return is_signed ? DataType::kInt8 : DataType::kUint8;
      case 2:
        return is_signed ? DataType::kInt16 : DataType::kUint16;
      case 4:
        return is_signed ? DataType::kInt32 : DataType::kUint32;
      case 8:
        return is_signed ? DataType::kInt64 : DataType::kUint64;
      default:
        break;
    }
  } else if (cls == H5T_FLOAT) {
    // Only IEEE layouts: a 4- or 8-byte float with another mantissa is not float32/64.
    size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0) {
      if (size == 4 && esize == 8 && msize == 23) return DataType::kFloat32;
      if (size == 8 && esize == 11 && msize == 52) return DataType::kFloat64;
      if (size == 2 && esize == 5 && msize == 10) return DataType::kFloat16;
    }
  }
  throw Unsupported(where + ": HDF5 " + Hdf5ClassName(type) + " type of " + std::to_string(size) +
                    " bytes; volbatch reads integers of 1 to 8 bytes and IEEE floats");
}

hid_t NativeHdf5Type(DataType t) {
  switch (t) {
    case DataType::kBool:
    case DataType::kUint8:
      return H5T_NATIVE_UINT8;
    case DataType::kInt8:
      return H5T_NATIVE_INT8;
    case DataType::kInt16:
      return H5T_NATIVE_INT16;
    case DataType::kInt32:
      return H5T_NATIVE_INT32;
    case DataType::kInt64:
      return H5T_NATIVE_INT64;
    case DataType::kUint16:
      return H5T_NATIVE_UINT16;
    case DataType::kUint32:
      return H5T_NATIVE_UINT32;
    case DataType::kUint64:
      return H5T_NATIVE_UINT64;
    case DataType::kFloat16:
      // No native half type in libhdf5 1.10: little-endian IEEE half, built once.
      {
        static const hid_t half = [] {
          hid_t h = H5Tcopy(H5T_IEEE_F32LE);
          H5Tset_fields(h, 15, 10, 5, 0, 10);
          H5Tset_precision(h, 16);
          H5Tset_size(h, 2);
          H5Tset_ebias(h, 15);
          return h;
        }();
        return half;
      }
    case DataType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case DataType::kFloat64:
      return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_UINT8;
}

std::string Hdf5ByteOrder(hid_t type) {
  auto lock = LockHdf5();
  if (H5Tget_size(type) <= 1) return "";
  switch (H5Tget_order(type)) {
    case H5T_ORDER_LE:
      return "little";
    case H5T_ORDER_BE:
      return "big";
    default:
      return "";
  }
}

}  // namespace volbatch
