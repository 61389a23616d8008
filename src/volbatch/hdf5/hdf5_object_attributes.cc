#include "volbatch/hdf5/hdf5_object_attributes.h"

#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_attribute_value.h"
#include "volbatch/hdf5/hdf5_dtype.h"
#include "volbatch/hdf5/hdf5_handle.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

// An attribute's stored bytes beyond this are data, not metadata: not read.
constexpr hssize_t kMaxAttributeBytes = hssize_t{16} << 20;

std::vector<std::string> ReadVariableStrings(hid_t attr, hid_t type, hid_t space, size_t n) {
  Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), H5T_VARIABLE);
  H5Tset_cset(mem.get(), H5Tget_cset(type));
  std::vector<char*> ptrs(n, nullptr);
  if (H5Aread(attr, mem.get(), ptrs.data()) < 0) throw DataLoss(Hdf5ErrorText());
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, ptrs.data());
  return out;
}

// The attribute's value as stored (the caller holds the HDF5 lock).
AttributeValue ReadValue(hid_t attr) {
  AttributeValue v;
  Hid type(H5Aget_type(attr), H5Tclose);
  Hid space(H5Aget_space(attr), H5Sclose);
  if (!type.valid() || !space.valid()) throw DataLoss(Hdf5ErrorText());
  const H5S_class_t extent = H5Sget_simple_extent_type(space.get());
  if (extent == H5S_NULL) {
    v.kind = AttributeValue::Kind::kOther;
    v.other = "empty";
    return v;
  }
  const int ndims = H5Sget_simple_extent_ndims(space.get());
  if (ndims < 0 || ndims > H5S_MAX_RANK) throw DataLoss("bad dataspace");
  v.dims.resize(static_cast<size_t>(ndims));
  std::vector<hsize_t> dims(v.dims.size());
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (size_t i = 0; i < dims.size(); ++i) v.dims[i] = dims[i];
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const H5T_class_t cls = H5Tget_class(type.get());
  v.element_size = H5Tget_size(type.get());
  if (n < 0 || v.element_size == 0) throw DataLoss("bad dataspace or type");
  if (cls == H5T_STRING && H5Tis_variable_str(type.get()) > 0) {
    if (n > kMaxAttributeBytes / 8) throw InvalidArgument("too many strings");
    v.kind = AttributeValue::Kind::kStrings;
    v.strings = ReadVariableStrings(attr, type.get(), space.get(), static_cast<size_t>(n));
    return v;
  }
  if (cls == H5T_INTEGER) {
    v.kind = H5Tget_sign(type.get()) == H5T_SGN_2 ? AttributeValue::Kind::kSignedInt
                                                  : AttributeValue::Kind::kUnsignedInt;
  } else if (cls == H5T_FLOAT) {
    v.kind = AttributeValue::Kind::kFloat;
  } else if (cls == H5T_STRING) {
    v.kind = AttributeValue::Kind::kFixedString;
  } else {
    v.kind = AttributeValue::Kind::kOther;
    v.other = Hdf5ClassName(type.get());
    return v;
  }
  v.big_endian = H5Tget_order(type.get()) == H5T_ORDER_BE;
  if (static_cast<size_t>(n) > static_cast<size_t>(kMaxAttributeBytes) / v.element_size) {
    throw InvalidArgument("attribute of more than 16 MiB");
  }
  v.bytes.resize(static_cast<size_t>(n) * v.element_size);
  // Read in the file's own type: no conversion, the bytes as stored.
  if (H5Aread(attr, type.get(), v.bytes.data()) < 0) throw DataLoss(Hdf5ErrorText());
  return v;
}

struct Context {
  json* out;
  std::string where;
};

herr_t Visit(hid_t object, const char* name, const H5A_info_t*, void* data) {
  auto* ctx = static_cast<Context*>(data);
  try {
    Hid attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
    if (!attr.valid()) throw DataLoss(Hdf5ErrorText());
    (*ctx->out)[name] = AttributeToJson(ReadValue(attr.get()));
  } catch (const std::exception& e) {
    (*ctx->out)[name] = std::string("<unreadable: ") + e.what() + ">";
  }
  return 0;  // go on with the next attribute
}

}  // namespace

json ReadHdf5Attributes(hid_t object, const std::string& where) {
  auto lock = LockHdf5();
  json out = json::object();
  Context ctx{&out, where};
  hsize_t index = 0;
  if (H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_NATIVE, &index, Visit, &ctx) < 0) {
    throw DataLoss(where + ": cannot list its HDF5 attributes (" + Hdf5ErrorText() + ")");
  }
  return out;
}

}  // namespace volbatch
