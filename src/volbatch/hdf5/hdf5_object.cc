#include "volbatch/hdf5/hdf5_object.h"

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

// Throws NotFound at the first component of `object` that is not a link in its group:
// H5Oopen would only say "not found" for the whole path.
void CheckPath(hid_t file, const Hdf5Location& where) {
  std::string prefix;
  size_t at = 1;
  while (at < where.object.size()) {
    size_t slash = where.object.find('/', at);
    if (slash == std::string::npos) slash = where.object.size();
    const std::string part = where.object.substr(at, slash - at);
    at = slash + 1;
    if (part.empty()) continue;
    prefix += "/" + part;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0 ||
        H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
      const std::string whole = where.object == prefix ? "" : " (in " + where.object + ")";
      throw NotFound(where.file + ": no " + prefix + " in this HDF5 file" + whole);
    }
  }
}

}  // namespace

Hdf5Object OpenHdf5Object(const Hdf5Location& where, hid_t dapl) {
  auto lock = LockHdf5();
  Hdf5Object o;
  o.file = Hid(H5Fopen(where.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!o.file.valid()) {
    throw InvalidArgument(where.file + ": cannot open as an HDF5 file (" + Hdf5ErrorText() + ")");
  }
  CheckPath(o.file.get(), where);
  Hid probe(H5Oopen(o.file.get(), where.object.c_str(), H5P_DEFAULT), H5Oclose);
  if (!probe.valid()) {
    throw DataLoss(where.Describe() + ": cannot open (" + Hdf5ErrorText() + ")");
  }
  o.type = H5Iget_type(probe.get());
  if (o.type == H5I_DATASET) {
    o.object = Hid(H5Dopen2(o.file.get(), where.object.c_str(), dapl), H5Dclose);
    if (!o.object.valid()) {
      throw DataLoss(where.Describe() + ": cannot open the dataset (" + Hdf5ErrorText() + ")");
    }
  } else {
    o.object = std::move(probe);
  }
  return o;
}

}  // namespace volbatch
