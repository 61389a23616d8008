#include "volbatch/engine/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"

namespace volbatch {
namespace {

// A model's inference keeps about this many float32 feature maps at the window's full
// resolution (a small 3D U-Net: 16-32 channels at the first level, twice that in the skip
// and the concatenation); what the GPU batch estimate assumes per window voxel.
constexpr int64_t kFeatureMapsPerVoxel = 32;

int64_t Product(const Shape& s) {
  int64_t n = 1;
  for (Index v : s) n *= v;
  return n;
}

Shape Grid(const Shape& shape, const Shape& cell) {
  Shape g(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) g[i] = (shape[i] + cell[i] - 1) / cell[i];
  return g;
}

// Cubes and z-thin shapes (a quarter of the side along the first axis) whose bytes are within
// a factor 4 of the target, every axis at most the volume's.
std::vector<Shape> DefaultChunkCandidates(const Shape& shape, size_t itemsize, int64_t target) {
  std::set<Shape> out;
  for (Index side : {16, 32, 64, 128, 256, 512}) {
    for (bool thin : {false, true}) {
      Shape c(shape.size(), side);
      if (thin && shape.size() >= 3) c[0] = std::max<Index>(1, side / 4);
      if (thin && shape.size() < 3) continue;
      for (size_t i = 0; i < c.size(); ++i) c[i] = std::min(c[i], shape[i]);
      const int64_t bytes = Product(c) * static_cast<int64_t>(itemsize);
      if (bytes * 4 >= target && bytes <= target * 4) out.insert(c);
    }
  }
  if (out.empty()) {
    Shape c(shape.size());
    for (size_t i = 0; i < c.size(); ++i) c[i] = std::min<Index>(shape[i], 64);
    out.insert(c);
  }
  return {out.begin(), out.end()};
}

// Chunk-sized regions at spread positions (a low-discrepancy walk over the chunk grid).
std::vector<Box> SampleBoxes(const Shape& shape, const Shape& chunks, int count) {
  const Shape g = Grid(shape, chunks);
  const int64_t n = Product(g);
  std::vector<Box> out;
  std::set<int64_t> seen;
  const double golden = 0.6180339887498949;
  for (int k = 0; k < count * 4 && static_cast<int>(out.size()) < std::min<int64_t>(count, n);
       ++k) {
    const int64_t linear =
        std::min(n - 1, static_cast<int64_t>(std::fmod(0.5 + k * golden, 1.0) * n));
    if (!seen.insert(linear).second) continue;
    Shape idx(g.size());
    int64_t rest = linear;
    for (size_t a = g.size(); a-- > 0;) {
      idx[a] = rest % g[a];
      rest /= g[a];
    }
    Shape begin(g.size()), size(g.size());
    for (size_t a = 0; a < g.size(); ++a) {
      begin[a] = idx[a] * chunks[a];
      size[a] = std::min(chunks[a], shape[a] - begin[a]);
    }
    out.emplace_back(begin, size);
  }
  return out;
}

std::string Mib(int64_t bytes) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(bytes < (10 << 20) ? 2 : 0);
  o << static_cast<double>(bytes) / (1 << 20);
  return o.str();
}

}  // namespace

std::vector<PlanCandidate> PlanStorage(const PlanOptions& o) {
  Shape shape = o.shape;
  DataType dtype = o.dtype;
  std::optional<Dataset> ds;
  if (!o.dataset.empty()) {
    ds = Dataset::Open(o.dataset);
    shape = ds->shape();
    dtype = ds->dtype();
  }
  if (shape.empty()) throw InvalidArgument("plan: give a dataset, or --shape and --dtype");
  for (Index v : shape) {
    if (v < 1) throw InvalidArgument("plan: --shape " + ShapeToString(shape) + " must be positive");
  }
  if (o.codecs.empty()) throw InvalidArgument("plan: --codec names no codec");
  for (const std::string& codec : o.codecs) {
    try {
      ParseCodecSpec(codec, dtype);  // refuses a filter that does not fit the dtype
    } catch (const Error& e) {
      throw WithContext(e, "plan: --codec");
    }
  }
  if (o.sample_chunks < 1 || o.sample_chunks > 10000) {
    throw InvalidArgument("plan: --sample must be 1 to 10000 chunks");
  }
  const size_t itemsize = ByteSize(dtype);
  const std::vector<Shape> chunk_list =
      o.chunks.empty() ? DefaultChunkCandidates(shape, itemsize, o.target_chunk_bytes) : o.chunks;
  for (const Shape& c : chunk_list) {
    if (c.size() != shape.size()) {
      throw InvalidArgument("plan: --chunks " + ShapeToString(c) + " has " +
                            std::to_string(c.size()) + " axes, the volume " +
                            std::to_string(shape.size()));
    }
  }
  if (o.window && o.window->size() != shape.size()) {
    throw InvalidArgument("plan: --window " + ShapeToString(*o.window) + " has " +
                          std::to_string(o.window->size()) + " axes, the volume " +
                          std::to_string(shape.size()));
  }

  std::vector<PlanCandidate> out;
  for (const Shape& chunks : chunk_list) {
    const std::vector<Box> boxes =
        ds ? SampleBoxes(shape, chunks, o.sample_chunks) : std::vector<Box>{};
    std::vector<Array> samples;
    for (const Box& b : boxes) {
      Array a = Array::Filled(dtype, chunks, Bytes(itemsize, std::byte{0}));
      const Array part = ds->Read(b);
      CopyRegion(part, Shape(b.rank(), 0), a, Shape(b.rank(), 0), b.shape);
      samples.push_back(std::move(a));
    }
    // Shards when the chunk files alone exceed the limit: the smallest power-of-two multiple
    // (largest axes first) that brings the count under it.
    std::optional<Shape> shards;
    if (o.max_files > 0 && Product(Grid(shape, chunks)) > o.max_files) {
      Shape s = chunks;
      while (Product(Grid(shape, s)) > o.max_files) {
        size_t best = 0;
        for (size_t a = 1; a < s.size(); ++a) {
          if (Grid(shape, s)[a] > Grid(shape, s)[best]) best = a;
        }
        if (Grid(shape, s)[best] <= 1) break;
        s[best] *= 2;
      }
      shards = s;
    }
    for (const std::string& codec : o.codecs) {
      PlanCandidate c;
      c.chunks = chunks;
      c.shards = shards;
      c.codec = codec;
      const Shape unit = shards ? *shards : chunks;
      const Shape grid = Grid(shape, unit);
      c.files = Product(grid);
      c.files_per_dir = grid.back();  // "c/i/j/k": one directory per leading index
      c.chunk_bytes = Product(chunks) * static_cast<int64_t>(itemsize);
      if (!samples.empty()) {
        const nlohmann::json list = ChainAroundBytes(
            ResolveCodecSpec(ParseCodecSpec(codec, dtype), Zarr2DType{dtype, false}), "little");
        const CodecChain chain = CodecChain::FromJson(list, "--codec " + codec);
        ChunkSpec spec;
        spec.dtype = dtype;
        spec.shape = chunks;
        spec.fill_value = Bytes(itemsize, std::byte{0});
        std::vector<Bytes> encoded;
        int64_t raw = 0, enc = 0;
        for (const Array& a : samples) {
          encoded.push_back(chain.Encode(a, spec));
          raw += static_cast<int64_t>(a.bytes().size());
          enc += static_cast<int64_t>(encoded.back().size());
        }
        c.ratio = static_cast<double>(raw) / static_cast<double>(std::max<int64_t>(enc, 1));
        // Decode the sample until a quarter second has passed (at least once).
        const auto t0 = std::chrono::steady_clock::now();
        int64_t decoded = 0;
        double seconds = 0;
        do {
          for (const Bytes& e : encoded) decoded += static_cast<int64_t>(chain.Decode(e, spec).bytes().size());
          seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } while (seconds < 0.25);
        c.decode_mb_s = static_cast<double>(decoded) / 1e6 / seconds;
      }
      const Shape window = o.window ? *o.window : chunks;
      c.windows_per_block = Product(Grid(unit, window));
      // The engine's block: its input plus a window of halo each side, read and padded (two
      // copies), float32 results with blending weights, and the output.
      double v_in = 1, v = 1;
      for (size_t a = 0; a < unit.size(); ++a) {
        const Index u = std::min(unit[a], shape[a]);
        v *= static_cast<double>(u);
        v_in *= static_cast<double>(u + 2 * std::min(window[a], shape[a]));
      }
      c.block_memory = static_cast<int64_t>(2 * v_in * static_cast<double>(itemsize) + v * 12 +
                                            v * static_cast<double>(itemsize));
      if (o.gpu_memory > 0) {
        c.gpu_batch = o.gpu_memory / (Product(window) * 4 * kFeatureMapsPerVoxel);
        if (c.gpu_batch < 1) c.problems.push_back("window too large for the GPU");
      }
      if (o.max_files > 0 && c.files > o.max_files) c.problems.push_back("too many files");
      if (o.max_files_per_dir > 0 && c.files_per_dir > o.max_files_per_dir) {
        c.problems.push_back("too many files per directory");
      }
      if (c.chunk_bytes * 4 < o.target_chunk_bytes || c.chunk_bytes > o.target_chunk_bytes * 4) {
        c.problems.push_back("chunk size far from the target");
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::string PlanTable(const std::vector<PlanCandidate>& cs) {
  std::ostringstream o;
  o << "| chunks | shards | codec | files | files/dir | chunk MiB | ratio | decode MB/s | "
       "windows/block | block MiB | GPU batch | fits |\n"
    << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : cs) {
    std::ostringstream ratio, speed;
    ratio.setf(std::ios::fixed);
    ratio.precision(2);
    speed.setf(std::ios::fixed);
    speed.precision(0);
    if (c.ratio > 0) {
      ratio << c.ratio;
      speed << c.decode_mb_s;
    } else {
      ratio << "-";
      speed << "-";
    }
    std::string fits = "yes";
    if (!c.problems.empty()) {
      fits = "no:";
      for (const auto& p : c.problems) fits += " " + p + ";";
      fits.pop_back();
    }
    o << "| " << ShapeToString(c.chunks) << " | " << (c.shards ? ShapeToString(*c.shards) : "-")
      << " | " << c.codec << " | " << c.files << " | " << c.files_per_dir << " | "
      << Mib(c.chunk_bytes) << " | " << ratio.str() << " | " << speed.str() << " | "
      << c.windows_per_block << " | " << Mib(c.block_memory) << " | "
      << (c.gpu_batch > 0 ? std::to_string(c.gpu_batch) : "-") << " | " << fits << " |\n";
  }
  return o.str();
}

}  // namespace volbatch
