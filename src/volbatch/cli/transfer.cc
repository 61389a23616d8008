#include "volbatch/cli/transfer.h"

#include <algorithm>
#include <filesystem>
#include <functional>

#include "volbatch/cli/npy.h"
#include "volbatch/cli/parse.h"
#include "volbatch/cli/raw.h"
#include "volbatch/cli/tiff.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/kvstore/location.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A volume that can be read in slabs along axis 0.
struct SlabSource {
  DataType dtype;
  Shape shape;
  std::function<Array(Index, Index)> read;  // planes [begin, end)
};

SlabSource OpenSlabSource(const std::string& src) {
  const std::string lower = Lower(src);
  if (EndsWith(lower, ".npy")) {
    auto reader = std::make_shared<NpyReader>(src);
    return {reader->header().dtype, reader->header().shape,
            [reader](Index b, Index e) { return reader->ReadSlab(b, e); }};
  }
  // ImportVolume has already routed datasets to CopyDataset, so a directory here is a folder
  // of .tif slices.
  if (IsTiffName(src) || fs::is_directory(src)) {
    auto reader = std::make_shared<TiffReader>(src);
    return {reader->dtype(), reader->shape(),
            [reader](Index b, Index e) { return reader->ReadSlab(b, e); }};
  }
  if (!fs::exists(src)) throw NotFound(src + ": no such file or dataset");
  throw InvalidArgument(src +
                        ": not a .npy file, a .tif file, a folder of .tif slices or a dataset");
}

}  // namespace

nlohmann::json ParseCodecFlag(const std::optional<std::string>& codec, DataType dtype) {
  try {
    return ParseCodecSpec(codec.value_or("zstd:3"), dtype);
  } catch (const Error& e) {
    throw WithContext(e, "--codec");
  }
}

namespace {

CreateOptions MakeCreateOptions(const Shape& shape, DataType dtype, const TransferOptions& o,
                                const std::optional<Shape>& source_chunks) {
  CreateOptions c;
  c.format = o.format;
  c.shape = shape;
  c.dtype = dtype;
  c.chunks = o.chunks ? *o.chunks : source_chunks ? *source_chunks : DefaultChunks(shape, dtype);
  if (c.chunks.size() != shape.size()) {
    throw InvalidArgument("--chunks " + ShapeToString(c.chunks) + " does not match the rank of " +
                          ShapeToString(shape));
  }
  c.codecs = ParseCodecFlag(o.codec, dtype);
  c.shards = o.shards;
  c.fill_value = o.fill_value;
  c.overwrite = o.overwrite;
  return c;
}

// Planes per slab: whole storage units along axis 0, and at most ~256 MiB.
Index SlabPlanes(const Dataset& dst) {
  const auto& l = dst.layout();
  Index plane_bytes = static_cast<Index>(ByteSize(l.dtype));
  for (size_t i = 1; i < l.shape.size(); ++i) plane_bytes *= l.shape[i];
  const Index unit = l.write_chunks[0];
  Index units = std::max<Index>(1, (Index{256} << 20) / std::max<Index>(1, plane_bytes * unit));
  return unit * units;
}

void CopySlabs(const SlabSource& src, Dataset& dst) {
  const Index n = src.shape[0];
  const Index step = SlabPlanes(dst);
  for (Index z = 0; z < n; z += step) {
    const Index e = std::min(n, z + step);
    Array slab = src.read(z, e);
    Box box = Box::FromShape(src.shape);
    box.begin[0] = z;
    box.shape[0] = e - z;
    dst.Write(box, slab);
  }
}

}  // namespace

Shape DefaultChunks(const Shape& shape, DataType dtype, int64_t target_bytes) {
  Shape c = shape;
  for (auto& v : c) v = std::max<Index>(1, v);
  auto bytes = [&] {
    int64_t b = static_cast<int64_t>(ByteSize(dtype));
    for (Index v : c) b *= v;
    return b;
  };
  while (bytes() > target_bytes) {
    auto it = std::max_element(c.begin(), c.end());
    if (*it == 1) break;
    *it = (*it + 1) / 2;
  }
  return c;
}

Dataset ImportVolume(const std::string& src, const std::string& dst,
                     const TransferOptions& options) {
  if (Dataset::Exists(src)) return CopyDataset(src, dst, options);
  SlabSource source = OpenSlabSource(src);
  Dataset out = Dataset::Create(dst, MakeCreateOptions(source.shape, source.dtype, options, {}),
                                {.sync = SyncMode::kDeferred});
  CopySlabs(source, out);
  out.Sync();
  return out;
}

void CopyInto(const Dataset& src, Dataset& dst) {
  // Blocks of whole destination units, about 64 MiB each, processed in parallel.
  const auto& l = dst.layout();
  Shape block = l.write_chunks;
  const int64_t es = static_cast<int64_t>(ByteSize(l.dtype));
  auto bytes = [&] {
    int64_t b = es;
    for (Index v : block) b *= v;
    return b;
  };
  for (size_t axis = block.size(); axis-- > 0;) {
    while (bytes() * 2 <= (int64_t{64} << 20) && block[axis] < l.shape[axis]) block[axis] *= 2;
  }
  const std::vector<Shape> cells = GridCells(Box::FromShape(l.shape), block);
  ParallelFor(size_t{0}, cells.size(), [&](size_t i) {
    Shape origin(block.size());
    for (size_t a = 0; a < block.size(); ++a) origin[a] = cells[i][a] * block[a];
    Box box = Intersect(Box(origin, block), Box::FromShape(l.shape));
    dst.Write(box, src.Read(box));
  });
}

Dataset CopyDataset(const std::string& src, const std::string& dst,
                    const TransferOptions& options) {
  Dataset in = Dataset::Open(src);
  if (AbsoluteLocation(src) == AbsoluteLocation(dst)) {
    throw InvalidArgument(dst + ": the destination is the source");
  }
  Dataset out =
      Dataset::Create(dst, MakeCreateOptions(in.shape(), in.dtype(), options, in.layout().chunks),
                      {.sync = SyncMode::kDeferred});
  CopyInto(in, out);
  out.Sync();
  return out;
}

namespace {

// A destination written in slabs along axis 0.
struct SlabSink {
  std::function<void(const Array&)> write;
  std::function<void()> close;
};

template <typename Writer>
SlabSink SinkOf(std::shared_ptr<Writer> writer) {
  return {[writer](const Array& a) { writer->WriteSlab(a); }, [writer] { writer->Close(); }};
}

SlabSink OpenSlabSink(const std::string& dst, DataType dtype, const Shape& shape) {
  const std::string lower = Lower(dst);
  if (EndsWith(lower, ".npy")) return SinkOf(std::make_shared<NpyWriter>(dst, dtype, shape));
  if (IsTiffName(dst)) return SinkOf(std::make_shared<TiffWriter>(dst, dtype, shape));
  if (EndsWith(lower, ".raw")) return SinkOf(std::make_shared<RawWriter>(dst, dtype, shape));
  throw InvalidArgument(dst + ": unknown export format (use .npy, .tif, .tiff or .raw)");
}

}  // namespace

void ExportVolume(const std::string& src, const std::string& dst,
                  const std::optional<std::string>& roi) {
  Dataset in = Dataset::Open(src);
  const Box box = roi ? ParseRoi(*roi, in.shape(), "--roi") : Box::FromShape(in.shape());
  if (fs::exists(dst)) throw AlreadyExists(dst + ": exists; refusing to overwrite it");
  SlabSink sink = OpenSlabSink(dst, in.dtype(), box.shape);
  const Index step = in.layout().write_chunks[0];
  for (Index z = box.begin[0]; z < box.end(0);) {
    const Index e = std::min(box.end(0), (z / step + 1) * step);
    Box slab = box;
    slab.begin[0] = z;
    slab.shape[0] = e - z;
    sink.write(in.Read(slab));
    z = e;
  }
  sink.close();
}

}  // namespace volbatch
