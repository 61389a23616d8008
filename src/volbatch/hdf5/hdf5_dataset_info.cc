#include "volbatch/hdf5/hdf5_dataset_info.h"

#include <fmt/format.h>

#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_dtype.h"
#include "volbatch/hdf5/hdf5_handle.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

std::string LayoutName(H5D_layout_t l) {
  switch (l) {
    case H5D_CHUNKED:
      return "chunked";
    case H5D_CONTIGUOUS:
      return "contiguous";
    case H5D_COMPACT:
      return "compact";
    case H5D_VIRTUAL:
      return "virtual";
    default:
      return "unknown";
  }
}

// One filter of the pipeline as JSON, and its part of the one-line summary.
json Filter(H5Z_filter_t id, const char* name, const std::vector<unsigned>& cd) {
  json f = {{"id", id}};
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      f["name"] = "gzip";
      if (!cd.empty()) f["level"] = cd[0];
      break;
    case H5Z_FILTER_SHUFFLE:
      f["name"] = "shuffle";
      break;
    case H5Z_FILTER_FLETCHER32:
      f["name"] = "fletcher32";
      break;
    case H5Z_FILTER_SZIP:
      f["name"] = "szip";
      break;
    case H5Z_FILTER_NBIT:
      f["name"] = "nbit";
      break;
    case H5Z_FILTER_SCALEOFFSET:
      f["name"] = "scaleoffset";
      break;
    default:
      f["name"] = name[0] ? std::string(name) : fmt::format("filter {}", id);
      break;
  }
  return f;
}

std::string Summary(const json& filters) {
  if (filters.empty()) return "none";
  std::string s;
  for (const auto& f : filters) {
    if (!s.empty()) s += " | ";
    s += f["name"].get<std::string>();
    if (f.contains("level")) s += fmt::format("(level={})", f["level"].get<unsigned>());
  }
  return s;
}

void ReadFilters(hid_t dcpl, Hdf5DatasetInfo* info) {
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    size_t ncd = 8;
    std::vector<unsigned> cd(ncd);
    char name[64] = {};
    unsigned config = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &ncd, cd.data(),
                                           sizeof(name), name, &config);
    cd.resize(std::min<size_t>(ncd, 8));
    const json f = Filter(id, name, cd);
    if (id < 0 || H5Zfilter_avail(id) <= 0) {
      info->missing_filter =
          f["name"].get<std::string>() + " (HDF5 filter id " + std::to_string(id) + ")";
    }
    info->filters.push_back(f);
  }
  info->codecs = Summary(info->filters);
}

}  // namespace

Hdf5DatasetInfo DescribeHdf5Dataset(hid_t dataset, const std::string& where) {
  auto lock = LockHdf5();
  Hdf5DatasetInfo info;
  Hid type(H5Dget_type(dataset), H5Tclose);
  Hid space(H5Dget_space(dataset), H5Sclose);
  Hid dcpl(H5Dget_create_plist(dataset), H5Pclose);
  if (!type.valid() || !space.valid() || !dcpl.valid()) {
    throw DataLoss(where + ": cannot read the HDF5 dataset's header (" + Hdf5ErrorText() + ")");
  }
  info.type_class = Hdf5ClassName(type.get());
  info.byte_order = Hdf5ByteOrder(type.get());
  try {
    info.dtype = DataTypeOfHdf5(type.get(), where);
  } catch (const Error& e) {
    info.type_error = e.what();
  }
  const H5S_class_t extent = H5Sget_simple_extent_type(space.get());
  const int ndims = H5Sget_simple_extent_ndims(space.get());
  if (extent == H5S_SCALAR || ndims == 0) {
    info.shape_error = where + ": a scalar HDF5 dataset (no axes); volbatch reads arrays";
  } else if (extent != H5S_SIMPLE || ndims < 0) {
    info.shape_error = where + ": an empty HDF5 dataset (null dataspace)";
  } else {
    std::vector<hsize_t> dims(static_cast<size_t>(ndims));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    for (hsize_t d : dims) info.shape.push_back(static_cast<Index>(d));
  }
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  info.layout = LayoutName(layout);
  if (layout == H5D_CHUNKED && ndims > 0) {
    std::vector<hsize_t> c(static_cast<size_t>(ndims));
    if (H5Pget_chunk(dcpl.get(), ndims, c.data()) == ndims) {
      Shape chunks;
      for (hsize_t v : c) chunks.push_back(static_cast<Index>(v));
      info.chunks = chunks;
    }
  }
  ReadFilters(dcpl.get(), &info);
  info.stored_bytes = static_cast<int64_t>(H5Dget_storage_size(dataset));
  if (info.dtype) {
    info.fill_value.assign(ByteSize(*info.dtype), std::byte{0});
    H5D_fill_value_t defined = H5D_FILL_VALUE_UNDEFINED;
    if (H5Pfill_value_defined(dcpl.get(), &defined) >= 0 && defined != H5D_FILL_VALUE_UNDEFINED) {
      H5Pget_fill_value(dcpl.get(), NativeHdf5Type(*info.dtype), info.fill_value.data());
    }
  }
  return info;
}

}  // namespace volbatch
