#include "volbatch/cli/demo.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "volbatch/cli/info.h"
#include "volbatch/cli/synthetic_em.h"
#include "volbatch/cli/transfer.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

void RunDemo(const DemoOptions& o, std::ostream& out) {
  fs::create_directories(o.dir);
  const std::string n5_path = (fs::path(o.dir) / "demo.n5" / "raw").string();
  const std::string zarr_path = (fs::path(o.dir) / "demo.zarr" / "raw").string();
  const Shape shape{o.depth, o.height, o.width};

  out << fmt::format("volbatch demo: a synthetic EM volume {} uint8 in {}\n", ShapeToString(shape),
                     o.dir);
  auto t0 = std::chrono::steady_clock::now();
  CreateOptions c;
  c.format = "n5";
  c.shape = shape;
  c.dtype = DataType::kUint8;
  c.chunks = {64, 64, 64};
  c.codecs = ParseCodecSpec("gzip:5");
  c.overwrite = true;  // the demo's own output, regenerated on every run
  Dataset n5 = Dataset::Create(n5_path, c, {.sync = SyncMode::kDeferred});
  for (Index z = 0; z < shape[0]; z += 64) {
    Box slab({z, 0, 0}, {std::min<Index>(64, shape[0] - z), shape[1], shape[2]});
    n5.Write(slab, SyntheticEm(slab, SyntheticEmOptions{}));
  }
  n5.Sync();
  out << fmt::format("generated and wrote N5 (gzip) in {:.2f} s\n\n", Seconds(t0));
  out << FormatDescription(DescribeDataset(n5)) << "\n";

  t0 = std::chrono::steady_clock::now();
  TransferOptions t;
  t.format = "zarr3";
  t.chunks = Shape{64, 64, 64};
  t.shards = Shape{std::min<Index>(128, shape[0]), std::min<Index>(256, shape[1]),
                   std::min<Index>(256, shape[2])};
  for (size_t i = 0; i < 3; ++i) (*t.shards)[i] = ((*t.shards)[i] + 63) / 64 * 64;
  t.codec = "zstd:3";
  t.overwrite = true;
  Dataset zarr = CopyDataset(n5_path, zarr_path, t);
  out << fmt::format("converted to sharded Zarr v3 (zstd) in {:.2f} s\n\n", Seconds(t0));
  out << FormatDescription(DescribeDataset(zarr)) << "\n";

  t0 = std::chrono::steady_clock::now();
  const bool same = n5.Read(Box::FromShape(shape)) == zarr.Read(Box::FromShape(shape));
  out << fmt::format("read both back in {:.2f} s: {}\n", Seconds(t0),
                     same ? "identical voxels" : "MISMATCH");
  if (!same) throw DataLoss("demo: the Zarr v3 copy differs from the N5 original");
}

}  // namespace volbatch
