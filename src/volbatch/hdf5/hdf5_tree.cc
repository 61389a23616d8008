#include "volbatch/hdf5/hdf5_tree.h"

#include <set>

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_dataset_info.h"
#include "volbatch/hdf5/hdf5_object.h"
#include "volbatch/hdf5/hdf5_object_attributes.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

std::string Join(const std::string& group, const std::string& name) {
  return group == "/" ? "/" + name : group + "/" + name;
}

json DescribeDataset(hid_t dataset, const std::string& path, const std::string& where) {
  const Hdf5DatasetInfo info = DescribeHdf5Dataset(dataset, where);
  json j = {{"kind", "array"},
            {"path", path},
            {"layout", info.layout},
            {"codecs", info.codecs},
            {"stored_bytes", info.stored_bytes}};
  j["shape"] = info.shape;
  j["dtype"] = info.dtype ? json(std::string(DataTypeName(*info.dtype)))
                          : json(info.type_class + " (not readable)");
  j["chunks"] = info.chunks ? json(*info.chunks) : json(nullptr);
  if (!info.shape_error.empty()) j["note"] = info.shape_error;
  if (!info.missing_filter.empty()) j["note"] = "filter " + info.missing_filter + " missing";
  if (!info.byte_order.empty()) j["byte_order"] = info.byte_order;
  j["attributes"] = ReadHdf5Attributes(dataset, where);
  return j;
}

struct Walk {
  std::string file;
  std::set<haddr_t> seen;  // groups already listed: hard links can make cycles
};

json DescribeGroup(hid_t group, const std::string& path, Walk& walk);

json DescribeChild(hid_t parent, const std::string& name, const std::string& path, Walk& walk) {
  const std::string where = walk.file + ":" + path;
  Hid child(H5Oopen(parent, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!child.valid()) {
    return {{"kind", "link"}, {"path", path}, {"note", "cannot open: " + Hdf5ErrorText()}};
  }
  switch (H5Iget_type(child.get())) {
    case H5I_GROUP:
      return DescribeGroup(child.get(), path, walk);
    case H5I_DATASET:
      return DescribeDataset(child.get(), path, where);
    default:
      return {{"kind", "datatype"}, {"path", path}};
  }
}

json DescribeGroup(hid_t group, const std::string& path, Walk& walk) {
  json j = {{"kind", "group"}, {"path", path}};
  H5O_info_t oi{};
  if (H5Oget_info2(group, &oi, H5O_INFO_BASIC) >= 0 && !walk.seen.insert(oi.addr).second) {
    j["note"] = "listed above (a second link to the same group)";
    return j;
  }
  j["attributes"] = ReadHdf5Attributes(group, walk.file + ":" + path);
  std::vector<std::string> names;
  hsize_t index = 0;
  H5Literate(
      group, H5_INDEX_NAME, H5_ITER_INC, &index,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  json children = json::array();
  for (const auto& name : names)
    children.push_back(DescribeChild(group, name, Join(path, name), walk));
  j["children"] = children;
  return j;
}

}  // namespace

std::optional<json> Hdf5GroupTree(const Hdf5Location& where) {
  Hdf5Object object = OpenHdf5Object(where);
  if (object.type == H5I_DATASET) return std::nullopt;
  auto lock = LockHdf5();
  Walk walk{where.file, {}};
  json tree = DescribeGroup(object.object.get(), where.object, walk);
  tree["file"] = where.file;
  tree["format"] = "hdf5";
  return tree;
}

}  // namespace volbatch
