// storage_bench: the volbatch half of bench/storage. Loads a raw C-order volume, then, per
// repetition, writes it as a dataset and reads it back through Dataset::Write/Read in
// chunk-aligned slabs along z (threads limited with tbb::global_control), and measures the
// single-thread in-memory throughput of the same codec chain on a sample of the chunks (the
// limit the store can approach). Prints one JSON object on stdout.
//
//   storage_bench --data FILE.raw --dtype uint8 --shape Z,Y,X --out DIR --format zarr2|zarr3|n5
//                 --chunks 64,64,64 --codec SPEC [--shards Z,Y,X] [--threads 2] [--reps 3]
//                 [--slab-mib 64] [--sample-mib 64] [--roundtrip 0|1]
//
// Input and output buffers are allocated before the clock starts. Repetition N writes a fresh
// dataset at OUT/repN (a directory or an s3://BUCKET/PREFIX URL) and nothing is removed: on
// ext4 without a journal, files created right after many were deleted cost 3 to 5x more, so
// the caller deletes OUT when the run is over. stored_bytes and files count OUT/rep0 (-1 for
// a URL). --roundtrip 1 also times, per repetition, reading OUT/repN slab by slab and writing
// each slab to a new dataset OUT/repN.rt with the same options, then Sync (zarr_benchmarks'
// round trip). Before each timed write and round trip it touches and frees as much memory as
// the volume (WarmFreePages, as storage_bound does; see there why).
#include <sys/mman.h>
#include <sys/resource.h>
#include <tbb/global_control.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/dataset.h"

namespace {

using namespace volbatch;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Shape ParseShape(const std::string& s) {
  Shape out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    out.push_back(std::stoll(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Touches `bytes` of fresh memory and gives it back to the kernel, so that the page cache the
// next write fills comes from memory the host still backs (storage_bound.cc says why).
void WarmFreePages(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  std::memset(p, 1, bytes);
  ::munmap(p, bytes);
}

struct Usage {
  double user = 0, sys = 0;
  int64_t minor_faults = 0;
};

Usage GetUsage() {
  struct rusage r;
  ::getrusage(RUSAGE_SELF, &r);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return {sec(r.ru_utime), sec(r.ru_stime), r.ru_minflt};
}

int64_t DirBytes(const fs::path& dir, int64_t* files) {
  int64_t bytes = 0;
  *files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      bytes += static_cast<int64_t>(e.file_size());
      ++*files;
    }
  }
  return bytes;
}

// The volume as slabs of whole chunk rows along z, read from the raw file.
std::vector<Array> LoadSlabs(const std::string& path, DataType dtype, const Shape& shape,
                             Index slab_planes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound(path + ": cannot open");
  std::vector<Array> slabs;
  for (Index z = 0; z < shape[0]; z += slab_planes) {
    Shape s = shape;
    s[0] = std::min(slab_planes, shape[0] - z);
    Array a(dtype, s);
    in.read(reinterpret_cast<char*>(a.data()), static_cast<std::streamsize>(a.num_bytes()));
    if (static_cast<size_t>(in.gcount()) != a.num_bytes()) {
      throw DataLoss(path + ": shorter than the shape says");
    }
    slabs.push_back(std::move(a));
  }
  return slabs;
}

// Single-thread encode and decode throughput (decoded MB/s) of `chain` on chunks sampled
// evenly from the volume.
std::pair<double, double> CodecLimit(const std::vector<Array>& slabs, const Shape& shape,
                                     const Shape& chunks, DataType dtype,
                                     const nlohmann::json& bytes_codecs, int64_t sample_bytes) {
  nlohmann::json codecs =
      nlohmann::json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}});
  for (const auto& c : bytes_codecs) codecs.push_back(c);
  const CodecChain chain = CodecChain::FromJson(codecs, "benchmark codecs");
  ChunkSpec spec;
  spec.dtype = dtype;
  spec.shape = chunks;
  spec.fill_value = Bytes(ByteSize(dtype), std::byte{0});
  // Whole chunks only, taken along a diagonal-ish walk of the chunk grid.
  const Index slab_planes = slabs[0].shape()[0];
  std::vector<Array> sample;
  const int64_t chunk_bytes = static_cast<int64_t>(spec.num_bytes());
  const int64_t want = std::max<int64_t>(1, sample_bytes / chunk_bytes);
  Shape grid(shape.size());
  Index total = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    grid[i] = shape[i] / chunks[i];
    total *= grid[i];
  }
  if (total == 0) throw InvalidArgument("the volume holds no whole chunk");
  const Index step = std::max<Index>(1, total / want);
  for (Index k = 0; k < total && static_cast<int64_t>(sample.size()) < want; k += step) {
    Shape idx(shape.size());
    Index r = k;
    for (size_t i = shape.size(); i-- > 0;) {
      idx[i] = r % grid[i];
      r /= grid[i];
    }
    Shape origin(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) origin[i] = idx[i] * chunks[i];
    const Array& slab = slabs[static_cast<size_t>(origin[0] / slab_planes)];
    Shape local = origin;
    local[0] = origin[0] % slab_planes;
    sample.push_back(slab.Slice(Box(local, chunks)));
  }
  // An untimed pass makes the encoded inputs of the decode pass (and checks the round trip);
  // the timed passes free every output at once, as a store does, so that they measure the
  // codec rather than the kernel handing out fresh pages.
  std::vector<Bytes> encoded(sample.size());
  for (size_t i = 0; i < sample.size(); ++i) {
    encoded[i] = chain.Encode(sample[i], spec);
    if (!(chain.Decode(encoded[i], spec) == sample[i])) throw Internal("codec round trip differs");
  }
  size_t sink = 0;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < sample.size(); ++i) sink += chain.Encode(sample[i], spec).size();
  const auto t1 = Clock::now();
  for (size_t i = 0; i < sample.size(); ++i) sink += chain.Decode(encoded[i], spec).num_bytes();
  const auto t2 = Clock::now();
  if (sink == 0 && chunk_bytes > 0) throw Internal("codec produced nothing");
  const double mb = static_cast<double>(sample.size()) * static_cast<double>(chunk_bytes) / 1e6;
  return {mb / Seconds(t0, t1), mb / Seconds(t1, t2)};
}

// Seconds to read the dataset at `from` slab by slab (the shapes of `slabs`, which it reuses)
// and write each slab to a new dataset at `to` made with `options`, then Sync.
double RoundTrip(const std::string& from, const std::string& to, const CreateOptions& options,
                 std::vector<Array>& slabs) {
  const auto t0 = Clock::now();
  const Dataset in = Dataset::Open(from);
  Dataset out = Dataset::Create(to, options, {.sync = SyncMode::kDeferred});
  Index z = 0;
  for (auto& s : slabs) {
    Box box = Box::FromShape(options.shape);
    box.begin[0] = z;
    box.shape[0] = s.shape()[0];
    in.Read(box, s);
    out.Write(box, s);
    z += s.shape()[0];
  }
  out.Sync();
  return Seconds(t0, Clock::now());
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> args = {{"--threads", "2"},    {"--reps", "3"},
                                             {"--slab-mib", "64"},  {"--sample-mib", "64"},
                                             {"--format", "zarr3"}, {"--roundtrip", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* need : {"--data", "--dtype", "--shape", "--out", "--chunks", "--codec"}) {
    if (!args.count(need)) {
      std::cerr << "storage_bench: missing " << need << "\n";
      return 2;
    }
  }
  const DataType dtype = ParseDataType(args["--dtype"], "--dtype");
  const Shape shape = ParseShape(args["--shape"]);
  CreateOptions options;
  options.format = args["--format"];
  // zarr-python's default, so that both write the same files ("0.1.2", one directory).
  if (options.format == "zarr2") options.dimension_separator = ".";
  options.shape = shape;
  options.dtype = dtype;
  options.chunks = ParseShape(args["--chunks"]);
  options.codecs = ParseCodecSpec(args["--codec"]);
  if (args.count("--shards")) options.shards = ParseShape(args["--shards"]);
  const Shape unit = options.shards ? *options.shards : options.chunks;
  const int threads = std::stoi(args["--threads"]);
  const int reps = std::stoi(args["--reps"]);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);

  // Slabs of whole storage units along z, about --slab-mib each.
  int64_t plane_bytes = static_cast<int64_t>(ByteSize(dtype));
  for (size_t i = 1; i < shape.size(); ++i) plane_bytes *= shape[i];
  const int64_t slab_target = std::stoll(args["--slab-mib"]) << 20;
  const Index slab_planes =
      unit[0] * std::max<Index>(1, slab_target / std::max<int64_t>(1, plane_bytes * unit[0]));
  const std::vector<Array> slabs = LoadSlabs(args["--data"], dtype, shape, slab_planes);
  std::vector<Array> back;
  size_t volume_bytes = 0;
  for (const auto& s : slabs) {
    back.emplace_back(dtype, s.shape());
    volume_bytes += s.num_bytes();
  }

  const std::string out_arg = args["--out"];
  const bool url = IsUrl(out_arg);
  const bool roundtrip = args["--roundtrip"] == "1";
  nlohmann::json result;
  for (const char* k :
       {"volbatch_write_s", "volbatch_sync_s", "volbatch_read_s", "volbatch_roundtrip_s"}) {
    result[k] = nlohmann::json::array();
  }
  // Where the time goes, per phase: CPU seconds of this process and page faults.
  nlohmann::json& usage = result["usage"];
  auto record = [&](const char* phase, const Usage& a, const Usage& b) {
    nlohmann::json& u = usage[phase];
    u["user_s"].push_back(b.user - a.user);
    u["sys_s"].push_back(b.sys - a.sys);
    u["minor_faults"].push_back(b.minor_faults - a.minor_faults);
  };
  for (int rep = 0; rep < reps; ++rep) {
    const std::string where = out_arg + "/rep" + std::to_string(rep);
    WarmFreePages(volume_bytes);
    const Usage u0 = GetUsage();
    const auto t0 = Clock::now();
    Dataset ds = Dataset::Create(where, options, {.sync = SyncMode::kDeferred});
    Index z = 0;
    for (const auto& s : slabs) {
      Box box = Box::FromShape(shape);
      box.begin[0] = z;
      box.shape[0] = s.shape()[0];
      ds.Write(box, s);
      z += s.shape()[0];
    }
    const auto t1 = Clock::now();
    const Usage u1 = GetUsage();
    ds.Sync();
    const auto t2 = Clock::now();
    const Usage u2 = GetUsage();
    const Dataset in = Dataset::Open(where);
    z = 0;
    for (auto& b : back) {
      Box box = Box::FromShape(shape);
      box.begin[0] = z;
      box.shape[0] = b.shape()[0];
      in.Read(box, b);
      z += b.shape()[0];
    }
    const auto t3 = Clock::now();
    const Usage u3 = GetUsage();
    for (size_t i = 0; i < slabs.size(); ++i) {
      if (!(back[i] == slabs[i])) throw Internal("read back differs from what was written");
    }
    result["volbatch_write_s"].push_back(Seconds(t0, t1));
    result["volbatch_sync_s"].push_back(Seconds(t1, t2));
    result["volbatch_read_s"].push_back(Seconds(t2, t3));
    record("write", u0, u1);
    record("sync", u1, u2);
    record("read", u2, u3);
    if (roundtrip) {
      WarmFreePages(volume_bytes);
      const Usage u4 = GetUsage();
      result["volbatch_roundtrip_s"].push_back(RoundTrip(where, where + ".rt", options, back));
      record("roundtrip", u4, GetUsage());
    }
  }
  int64_t files = -1;
  result["stored_bytes"] = url ? int64_t{-1} : DirBytes(out_arg + "/rep0", &files);
  result["files"] = files;
  const auto [enc, dec] = CodecLimit(slabs, shape, options.chunks, dtype, options.codecs,
                                     std::stoll(args["--sample-mib"]) << 20);
  result["codec_encode_MBps"] = enc;
  result["codec_decode_MBps"] = dec;
  result["format"] = options.format;
  std::cout << result.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "storage_bench: " << e.what() << "\n";
    return 1;
  }
}
