// Test helpers: small HDF5 files written with the C API (the Python suite, tests/hdf5, uses
// h5py as the independent writer).
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/hdf5/hdf5_handle.h"

namespace volbatch::testing {

struct Hdf5Spec {
  hid_t file_type = H5T_STD_U8LE;  // the stored type (any byte order)
  hid_t mem_type = H5T_NATIVE_UINT8;
  std::vector<hsize_t> dims = {};
  std::optional<std::vector<hsize_t>> chunks = std::nullopt;  // nullopt: contiguous
  int gzip = -1;                                              // deflate level; -1: none
  bool shuffle = false;
};

// Creates or opens `file` and writes `path` (its groups created) from `data`.
inline void WriteHdf5(const std::string& file, const std::string& path, const Hdf5Spec& s,
                      const void* data) {
  auto lock = LockHdf5();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Hid f(std::filesystem::exists(file)
            ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
            : H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
        H5Fclose);
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (s.chunks) {
    H5Pset_chunk(dcpl.get(), static_cast<int>(s.chunks->size()), s.chunks->data());
    if (s.shuffle) H5Pset_shuffle(dcpl.get());
    if (s.gzip >= 0) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(s.gzip));
  }
  Hid space(H5Screate_simple(static_cast<int>(s.dims.size()), s.dims.data(), nullptr), H5Sclose);
  Hid d(H5Dcreate2(f.get(), path.c_str(), s.file_type, space.get(), lcpl.get(), dcpl.get(),
                   H5P_DEFAULT),
        H5Dclose);
  if (data) H5Dwrite(d.get(), s.mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
}

// Sets a numeric attribute of `object` (a 1-D array of `values` in `file_type`).
inline void WriteHdf5Attribute(const std::string& file, const std::string& object,
                               const std::string& name, hid_t file_type,
                               const std::vector<double>& values) {
  auto lock = LockHdf5();
  Hid f(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  Hid o(H5Oopen(f.get(), object.c_str(), H5P_DEFAULT), H5Oclose);
  const hsize_t n = values.size();
  Hid space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Hid a(H5Acreate2(o.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
  H5Awrite(a.get(), H5T_NATIVE_DOUBLE, values.data());
}

}  // namespace volbatch::testing
