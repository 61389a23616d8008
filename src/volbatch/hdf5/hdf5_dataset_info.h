// What an HDF5 dataset is, from its dataspace, type and creation properties: shape, element
// type, storage layout, chunk shape, filter pipeline, fill value and bytes stored. Shared by
// the driver (which refuses what it cannot read) and the group listing (which shows it).
// Cost: a handful of metadata calls under the HDF5 lock, no data read.
#pragma once

#include <hdf5.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/core/array.h"

namespace volbatch {

struct Hdf5DatasetInfo {
  Shape shape;
  std::optional<DataType> dtype;  // nullopt: a type volbatch does not read
  std::string type_error;         // why, when dtype is nullopt
  std::string type_class;         // "integer", "float", "compound", ...
  std::string byte_order;         // "little", "big" or ""
  std::string layout;             // "chunked", "contiguous", "compact", "virtual"
  std::optional<Shape> chunks;    // chunked layout only
  nlohmann::json filters = nlohmann::json::array();  // [{"name": "gzip", "level": 4}, ...]
  std::string codecs;          // one line: "shuffle | gzip(level=4)", or "none"
  std::string missing_filter;  // a filter this libhdf5 cannot decode, named; "" if none
  int64_t stored_bytes = 0;
  Bytes fill_value;         // one element, native order (zeros if undefined)
  std::string shape_error;  // a scalar or empty dataspace, said why; "" if N-D
};

// `where` names the dataset in messages ("file.h5:/volumes/raw").
Hdf5DatasetInfo DescribeHdf5Dataset(hid_t dataset, const std::string& where);

}  // namespace volbatch
