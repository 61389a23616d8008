#include "volbatch/hdf5/hdf5_driver.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_chunk_reader.h"
#include "volbatch/hdf5/hdf5_dataset_info.h"
#include "volbatch/hdf5/hdf5_dtype.h"
#include "volbatch/hdf5/hdf5_object.h"
#include "volbatch/hdf5/hdf5_object_attributes.h"
#include "volbatch/store/fill_value.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

// libhdf5's default chunk cache is 1 MiB per dataset: a chunk larger than that is read and
// decompressed again for every part of it asked for. Training windows read parts of chunks.
constexpr size_t kChunkCacheBytes = size_t{64} << 20;
constexpr size_t kChunkCacheSlots = 12421;  // a prime, ~100x the chunks that fit

class Hdf5Driver final : public FormatDriver {
 public:
  Hdf5Driver(Hdf5Location where, Hdf5Object object, Hdf5DatasetInfo info, json attributes)
      : where_(std::move(where)),
        object_(std::move(object)),
        info_(std::move(info)),
        attributes_(std::move(attributes)) {
    layout_.shape = info_.shape;
    layout_.dtype = *info_.dtype;
    layout_.chunks =
        info_.chunks ? *info_.chunks : Hdf5SlabShape(info_.shape, ByteSize(layout_.dtype));
    layout_.write_chunks = layout_.chunks;
    layout_.fill_value = info_.fill_value;
    const char* direct = std::getenv("VOLBATCH_HDF5_DIRECT_CHUNKS");
    if (!direct || std::strcmp(direct, "0") != 0) chunk_reader_ = Hdf5ChunkReader::Make(info_);
    auto lock = LockHdf5();
    native_ = NativeHdf5Type(layout_.dtype);
  }

  std::string format_name() const override { return "hdf5"; }
  const ArrayLayout& layout() const override { return layout_; }
  bool read_only() const override { return true; }
  std::optional<int64_t> StoredBytes() const override { return info_.stored_bytes; }

  std::string UnitKey(const Shape& unit_index) const override {
    return where_.object + " chunk " + ShapeToString(unit_index);
  }
  Array DecodeUnit(ByteView, const Shape&) const override {
    throw Internal(where_.Describe() + ": HDF5 units are read with H5Dread, not decoded");
  }
  std::optional<Bytes> EncodeUnit(const Array&, const Shape&) const override {
    throw Unsupported(where_.Describe() + ": volbatch does not write HDF5");
  }

  std::optional<Array> ReadUnitRegion(const KvStore& kv, const Shape& unit_index,
                                      const Box& local) const override {
    // `local` may reach past the dataset's edge (a cell of a training cache): fill value there.
    Array out = Array::Filled(layout_.dtype, local.shape, layout_.fill_value);
    Shape origin(local.rank());
    for (size_t i = 0; i < origin.size(); ++i) {
      origin[i] = unit_index[i] * layout_.write_chunks[i] + local.begin[i];
    }
    const Box inside = Intersect(Box(origin, local.shape), Box::FromShape(layout_.shape));
    if (!inside.empty()) {
      const Box part = inside.Relative(origin);
      Box unit_local = local;
      for (size_t i = 0; i < origin.size(); ++i) unit_local.begin[i] += part.begin[i];
      unit_local.shape = part.shape;
      ReadUnitInto(kv, unit_index, unit_local, out, part.begin);
    }
    return out;
  }

  bool ReadUnitInto(const KvStore&, const Shape& unit_index, const Box& local, Array& out,
                    const Shape& out_origin) const override {
    if (chunk_reader_) {
      std::optional<Array> chunk =
          chunk_reader_->Read(object_.object.get(), unit_index, where_.Describe());
      if (!chunk) return false;  // never written: the caller fills it
      CopyRegion(*chunk, local.begin, out, out_origin, local.shape);
      return true;
    }
    const size_t rank = local.rank();
    std::vector<hsize_t> file_start(rank), count(rank), mem_start(rank), mem_dims(rank);
    for (size_t i = 0; i < rank; ++i) {
      file_start[i] =
          static_cast<hsize_t>(unit_index[i] * layout_.write_chunks[i] + local.begin[i]);
      count[i] = static_cast<hsize_t>(local.shape[i]);
      mem_start[i] = static_cast<hsize_t>(out_origin[i]);
      mem_dims[i] = static_cast<hsize_t>(out.shape()[i]);
    }
    auto lock = LockHdf5();
    Hid file_space(H5Dget_space(object_.object.get()), H5Sclose);
    Hid mem_space(H5Screate_simple(static_cast<int>(rank), mem_dims.data(), nullptr), H5Sclose);
    const bool ok = file_space.valid() && mem_space.valid() &&
                    H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, file_start.data(),
                                        nullptr, count.data(), nullptr) >= 0 &&
                    H5Sselect_hyperslab(mem_space.get(), H5S_SELECT_SET, mem_start.data(), nullptr,
                                        count.data(), nullptr) >= 0 &&
                    H5Dread(object_.object.get(), native_, mem_space.get(), file_space.get(),
                            H5P_DEFAULT, out.data()) >= 0;
    if (!ok) {
      Shape begin(rank);
      for (size_t i = 0; i < rank; ++i) begin[i] = static_cast<Index>(file_start[i]);
      throw DataLoss(where_.Describe() + ": reading " + Box(begin, local.shape).ToString() +
                     " failed (" + Hdf5ErrorText() + ")");
    }
    return true;
  }

  json Metadata() const override {
    json m = {{"file", where_.file},      {"object", where_.object},
              {"layout", info_.layout},   {"type_class", info_.type_class},
              {"filters", info_.filters}, {"stored_bytes", info_.stored_bytes}};
    m["chunks"] = info_.chunks ? json(*info_.chunks) : json(nullptr);
    if (!info_.byte_order.empty()) m["byte_order"] = info_.byte_order;
    return m;
  }
  std::string CodecSummary() const override {
    if (info_.chunks) return info_.codecs;
    return info_.layout + ", read in slabs of " + ShapeToString(layout_.chunks);
  }
  json Attributes() const override { return attributes_; }

 private:
  Hdf5Location where_;
  Hdf5Object object_;
  Hdf5DatasetInfo info_;
  json attributes_;
  ArrayLayout layout_;
  hid_t native_ = H5I_INVALID_HID;
  std::optional<Hdf5ChunkReader> chunk_reader_;  // nullopt: H5Dread
};

Hid ChunkCacheAccess() {
  auto lock = LockHdf5();
  Hid dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), kChunkCacheSlots, kChunkCacheBytes, 1.0);
  return dapl;
}

}  // namespace

Shape Hdf5SlabShape(const Shape& shape, size_t element_size, int64_t target_bytes) {
  Shape slab = shape;
  for (auto& v : slab) v = std::max<Index>(1, v);
  int64_t bytes = static_cast<int64_t>(element_size);
  // Fastest axes whole while they fit, then as many rows of the next as fit.
  for (size_t axis = slab.size(); axis-- > 0;) {
    if (bytes * slab[axis] <= target_bytes) {
      bytes *= slab[axis];
      continue;
    }
    slab[axis] = std::max<Index>(1, target_bytes / bytes);
    for (size_t slower = 0; slower < axis; ++slower) slab[slower] = 1;
    break;
  }
  return slab;
}

std::shared_ptr<FormatDriver> OpenHdf5Driver(const Hdf5Location& where) {
  const Hid dapl = ChunkCacheAccess();
  Hdf5Object object = OpenHdf5Object(where, dapl.get());
  if (object.type != H5I_DATASET) {
    throw InvalidArgument(where.Describe() +
                          " is an HDF5 group, not a dataset (`volbatch info` lists what it "
                          "holds)");
  }
  Hdf5DatasetInfo info = DescribeHdf5Dataset(object.object.get(), where.Describe());
  if (!info.shape_error.empty()) throw Unsupported(info.shape_error);
  if (!info.dtype) throw Unsupported(info.type_error);
  CheckRank(info.shape.size(), "HDF5 dataset");
  if (!info.missing_filter.empty()) {
    throw Unsupported(where.Describe() + ": compressed with " + info.missing_filter +
                      ", which this libhdf5 cannot decode");
  }
  json attributes = ReadHdf5Attributes(object.object.get(), where.Describe());
  return std::make_shared<Hdf5Driver>(where, std::move(object), std::move(info),
                                      std::move(attributes));
}

}  // namespace volbatch
