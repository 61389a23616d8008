#include "volbatch/cli/demo.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "volbatch/cli/info.h"
#include "volbatch/cli/synthetic_em.h"
#include "volbatch/cli/transfer.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/engine/run.h"
#include "volbatch/report/report.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Writes a job file into the demo directory (so that it can be read and rerun by hand) and
// runs it from scratch.
RunSummary RunDemoJob(const DemoOptions& o, const std::string& name, const std::string& toml,
                      std::ostream& out) {
  const std::string path = (fs::path(o.dir) / (name + ".toml")).string();
  {
    std::ofstream f(path);
    f << toml;
    if (!f) throw IoError(path + ": cannot write the demo's job file");
  }
  out << fmt::format("\n$ volbatch run {}\n", path);
  RunOptions r;
  r.force = true;  // the demo regenerates its input, so its outputs start over too
  r.quiet = true;
  r.threads = o.threads;
  RunSummary s = RunJob(ParseJobFile(path), r);
  out << s.ToText();
  if (s.blocks_failed) throw DataLoss("demo: " + name + ": " + s.failures.front().error);
  return s;
}

// Peak signal-to-noise ratio of `test` against the clean synthetic volume, in dB.
double Psnr(const Dataset& test, const SyntheticEmOptions& clean_options) {
  const Shape shape = test.shape();
  double sum = 0;
  for (Index z = 0; z < shape[0]; z += 32) {
    Box slab({z, 0, 0}, {std::min<Index>(32, shape[0] - z), shape[1], shape[2]});
    const Array clean = SyntheticEm(slab, clean_options);
    const Array got = test.Read(slab);
    const uint8_t* c = clean.data_as<uint8_t>();
    const uint8_t* g = got.data_as<uint8_t>();
    for (Index i = 0; i < clean.num_elements(); ++i) {
      const double d = static_cast<double>(c[i]) - static_cast<double>(g[i]);
      sum += d * d;
    }
  }
  const double mse = sum / static_cast<double>(NumElements(shape));
  return mse > 0 ? 10 * std::log10(255.0 * 255.0 / mse) : INFINITY;
}

std::string DefaultModel() {
#ifdef VOLBATCH_SOURCE_DIR
  return std::string(VOLBATCH_SOURCE_DIR) + "/models/denoise3d/denoise3d.pt";
#else
  return "models/denoise3d/denoise3d.pt";
#endif
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
  SyntheticEmOptions noisy;
  noisy.noise_sigma = o.noise_sigma;
  SyntheticEmOptions clean = noisy;
  clean.noise_sigma = 0;
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
    n5.Write(slab, SyntheticEm(slab, noisy));
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

  // The block-wise engine with built-in operators: smooth, then segment the membranes (dark).
  const std::string raw = fs::absolute(zarr_path).string();
  const std::string smooth = (fs::absolute(o.dir) / "demo.zarr" / "smooth").string();
  const std::string mask = (fs::absolute(o.dir) / "demo.zarr" / "membranes").string();
  RunDemoJob(o, "smooth",
             fmt::format("[input]\npath = \"{}\"\n[output]\npath = \"{}\"\ndtype = \"uint8\"\n"
                         "chunks = [64, 64, 64]\ncodec = \"zstd:3\"\n[operator]\n"
                         "type = \"gaussian\"\nsigma = [1.0, 1.5, 1.5]\n",
                         raw, smooth),
             out);
  RunDemoJob(o, "membranes",
             fmt::format("[input]\npath = \"{}\"\n[output]\npath = \"{}\"\ndtype = \"uint8\"\n"
                         "chunks = [64, 64, 64]\ncodec = \"zstd:3\"\n[operator]\n"
                         "type = \"threshold\"\nvalue = 90\n",
                         smooth, mask),
             out);

  // The main job: a 3D denoising network over the whole volume.
  const std::string model = o.model.empty() ? DefaultModel() : o.model;
  if (!fs::exists(model)) {
    throw NotFound(model +
                   ": the demo's denoising model is missing (train it with "
                   "models/train_denoiser.py, or pass --model)");
  }
  const std::string denoised = (fs::absolute(o.dir) / "demo.zarr" / "denoised").string();
  RunDemoJob(o, "denoise",
             fmt::format("[input]\npath = \"{}\"\n[output]\npath = \"{}\"\ndtype = \"uint8\"\n"
                         "chunks = [64, 64, 64]\ncodec = \"zstd:3\"\n[operator]\n"
                         "type = \"torch\"\nmodel = \"{}\"\n"
                         "normalize = {{ range = [0, 255] }}\ndenormalize = true\n"
                         "[tiling]\nblend = \"gaussian\"\n",
                         raw, denoised, fs::absolute(model).string()),
             out);
  const double before = Psnr(zarr, clean);
  const double after = Psnr(Dataset::Open(denoised), clean);
  out << fmt::format(
      "\nPSNR against the clean volume: {:.2f} dB noisy, {:.2f} dB denoised "
      "({:+.2f} dB)\n",
      before, after, after - before);
  const ReportResult report = WriteReport(DefaultJobDir(denoised));
  out << fmt::format("\nreport of the denoising run (plots, slice previews): {}\n", report.path);
}

}  // namespace volbatch
