#include "volbatch/engine/job.h"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "volbatch/codec/registry.h"
#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/engine/pyramid.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/hdf5_location.h"
#include "volbatch/tile/lattice.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

nlohmann::json TomlToJson(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : *t) j[std::string(k.str())] = TomlToJson(v);
    return j;
  }
  if (const auto* a = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : *a) j.push_back(TomlToJson(v));
    return j;
  }
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* v = node.as_integer()) return v->get();
  if (const auto* v = node.as_floating_point()) return v->get();
  if (const auto* v = node.as_boolean()) return v->get();
  // Dates and times: kept as a marker, rejected wherever a value is read.
  return "<date or time value>";
}

std::optional<Shape> OptionalShape(ParamTable& t, const std::string& key) {
  if (!t.Has(key)) return std::nullopt;
  const nlohmann::json* v = t.Raw(key);
  if (!v->is_array() || v->empty()) {
    throw t.Bad(key, "must be a list of integers (z, y, x), not " + v->dump());
  }
  Shape s;
  for (const auto& e : *v) {
    if (!e.is_number_integer()) throw t.Bad(key, "must hold integers, not " + e.dump());
    s.push_back(e.get<Index>());
  }
  return s;
}

ParamTable Table(const nlohmann::json& root, const std::string& name, bool required) {
  if (!root.contains(name)) {
    if (required) throw InvalidArgument("[" + name + "]: missing table");
    return ParamTable(nlohmann::json::object(), 0, name);
  }
  const auto& t = root.at(name);
  if (!t.is_object()) throw InvalidArgument("[" + name + "]: must be a table");
  return ParamTable(t, 0, name);
}

// A path a user wrote must name something: not empty, no NUL (TOML allows "\u0000", which
// the filesystem would silently cut at).
void CheckPath(const ParamTable& t, const std::string& key, const std::string& path) {
  if (path.empty()) throw t.Bad(key, "must not be empty");
  if (path.find('\0') != std::string::npos) throw t.Bad(key, "contains a NUL character");
}

}  // namespace

int64_t ParseByteSize(const nlohmann::json& value, const std::string& what) {
  if (value.is_number_integer()) {
    if (value.get<int64_t>() <= 0) throw InvalidArgument(what + ": must be positive");
    return value.get<int64_t>();
  }
  if (!value.is_string()) {
    throw InvalidArgument(what + ": must be a size like \"4GiB\" or a number of bytes, not " +
                          value.dump());
  }
  const std::string s = value.get<std::string>();
  size_t pos = 0;
  double number = 0;
  try {
    number = std::stod(s, &pos);
  } catch (const std::exception&) {
    throw InvalidArgument(what + ": \"" + s + "\" is not a size like \"4GiB\"");
  }
  std::string unit = s.substr(pos);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, double> kUnits[] = {{"", 1},
                                                          {"B", 1},
                                                          {"KB", 1e3},
                                                          {"MB", 1e6},
                                                          {"GB", 1e9},
                                                          {"TB", 1e12},
                                                          {"KiB", 1024.0},
                                                          {"MiB", 1048576.0},
                                                          {"GiB", 1073741824.0},
                                                          {"TiB", 1099511627776.0},
                                                          {"K", 1024.0},
                                                          {"M", 1048576.0},
                                                          {"G", 1073741824.0}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      const double bytes = number * factor;
      if (!(bytes >= 1) || bytes > 9e18) {
        throw InvalidArgument(what + ": \"" + s + "\" is not a usable size");
      }
      return static_cast<int64_t>(bytes);
    }
  }
  throw InvalidArgument(what + ": unknown unit \"" + unit + "\" in \"" + s +
                        "\" (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

nlohmann::json ParseTomlDocument(const std::string& text, const std::string& source) {
  try {
    return TomlToJson(toml::parse(text, source));
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw InvalidArgument(source + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                          ": " + std::string(e.description()));
  }
}

JobSpec ParseJobToml(const std::string& text, const std::string& source) {
  return ParseJobJson(ParseTomlDocument(text, source), source);
}

std::string ReadJobText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound(path + ": cannot open the job file");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void RebaseJobPaths(JobSpec& spec, const std::string& job_file) {
  // Relative paths in a job file are relative to the file, so a job runs from any directory.
  const fs::path base = fs::absolute(job_file).parent_path();
  auto rebase = [&](std::string& p) {
    if (!p.empty() && !IsUrl(p) && fs::path(p).is_relative()) {
      p = (base / p).lexically_normal().string();
    }
  };
  rebase(spec.input.path);
  rebase(spec.output.path);
  rebase(spec.run.jobdir);
  if (spec.op.contains("model") && spec.op["model"].is_string()) {
    std::string m = spec.op["model"].get<std::string>();
    rebase(m);
    spec.op["model"] = m;
  }
}

JobSpec ParseJobJson(const nlohmann::json& root, const std::string& source) {
  if (!root.is_object()) throw InvalidArgument(source + ": a job must be a table of tables");
  JobSpec spec;
  spec.source = source;
  try {
    for (const auto& [key, value] : root.items()) {
      static const char* kTables[] = {"input", "output", "operator", "tiling", "run"};
      if (std::find(std::begin(kTables), std::end(kTables), key) == std::end(kTables)) {
        throw InvalidArgument("[" + key +
                              "]: unknown table (a job has [input], [output], [operator], "
                              "[tiling] and [run])");
      }
    }
    {
      ParamTable t = Table(root, "input", true);
      spec.input.path = t.String("path");
      CheckPath(t, "path", spec.input.path);
      spec.input.channels = t.Bool("channels", false);
      spec.input.axes = t.String("axes", "");
      t.Finish();
    }
    {
      ParamTable t = Table(root, "output", true);
      spec.output.path = t.String("path");
      CheckPath(t, "path", spec.output.path);
      spec.output.format = t.String("format", "");
      if (!spec.output.format.empty() && spec.output.format != "n5" &&
          spec.output.format != "zarr2" && spec.output.format != "zarr3") {
        throw t.Bad("format", "\"" + spec.output.format + "\" is not one of n5, zarr2, zarr3");
      }
      if (t.Has("dtype")) {
        const std::string d = t.String("dtype");
        spec.output.dtype = ParseDataType(d, "[output] dtype");
      }
      spec.output.chunks = OptionalShape(t, "chunks");
      spec.output.codec = t.String("codec", "zstd:3");
      spec.output.shards = OptionalShape(t, "shards");
      const Index levels = t.Integer("pyramid", 0);
      if (levels < 0 || levels > 30) throw t.Bad("pyramid", "must be 0 to 30 levels");
      spec.output.pyramid = static_cast<int>(levels);
      spec.output.pyramid_method = t.String("pyramid_method", "mean");
      if (spec.output.pyramid_method != "mean" && spec.output.pyramid_method != "mode") {
        throw t.Bad("pyramid_method", "\"" + spec.output.pyramid_method +
                                          "\" is not one of mean (intensities), mode (labels)");
      }
      if (t.Has("voxel_size")) {
        const nlohmann::json* v = t.Raw("voxel_size");
        std::vector<double> size;
        for (const auto& e : v->is_array() ? *v : nlohmann::json::array()) {
          if (!e.is_number() || !(e.get<double>() > 0) || !std::isfinite(e.get<double>())) {
            throw t.Bad("voxel_size", "must hold positive numbers, not " + e.dump());
          }
          size.push_back(e.get<double>());
        }
        if (size.empty()) {
          throw t.Bad("voxel_size", "must be a list of numbers (z, y, x), not " + v->dump());
        }
        spec.output.voxel_size = size;
      }
      t.Finish();
    }
    if (!root.contains("operator") || !root.at("operator").is_object()) {
      throw InvalidArgument("[operator]: missing table (type = \"identity\", \"gaussian\", ...)");
    }
    spec.op = root.at("operator");
    {
      ParamTable t = Table(root, "tiling", false);
      spec.tiling.window = OptionalShape(t, "window");
      spec.tiling.overlap = OptionalShape(t, "overlap");
      if (t.Has("blend")) spec.tiling.blend = t.String("blend");
      spec.tiling.padding = t.String("padding", "reflect");
      spec.tiling.padding_value = t.Number("padding_value", 0.0);
      spec.tiling.block = OptionalShape(t, "block");
      t.Finish();
    }
    {
      ParamTable t = Table(root, "run", false);
      spec.run.threads = static_cast<int>(t.Integer("threads", 0));
      if (spec.run.threads < 0 || spec.run.threads > 4096) {
        throw t.Bad("threads", "must be between 1 and 4096 (0: every core)");
      }
      if (const auto* m = t.Raw("memory")) spec.run.memory = ParseByteSize(*m, "[run] memory");
      spec.run.blocks_in_flight = static_cast<int>(t.Integer("blocks_in_flight", 0));
      if (spec.run.blocks_in_flight < 0 || spec.run.blocks_in_flight > 1024) {
        throw t.Bad("blocks_in_flight", "must be between 1 and 1024");
      }
      spec.run.retries = static_cast<int>(t.Integer("retries", 1));
      if (spec.run.retries < 0 || spec.run.retries > 100) {
        throw t.Bad("retries", "must be between 0 and 100");
      }
      spec.run.order = t.String("order", "lattice");
      if (spec.run.order != "lattice" && spec.run.order != "shuffle") {
        throw t.Bad("order", "\"" + spec.run.order + "\" is not one of lattice, shuffle");
      }
      spec.run.seed = static_cast<uint64_t>(t.Integer("seed", 0));
      spec.run.jobdir = t.String("jobdir", "");
      if (spec.run.jobdir.find('\0') != std::string::npos) {
        throw t.Bad("jobdir", "contains a NUL character");
      }
      if (t.Has("metrics_port")) {
        spec.run.metrics.port = CheckMetricsPort(t.Integer("metrics_port"), "[run] metrics_port");
      }
      spec.run.metrics.address = t.String("metrics_address", "");
      spec.run.metrics.linger_s = t.Number("metrics_linger", 0.0);
      if (!(spec.run.metrics.linger_s >= 0 && spec.run.metrics.linger_s <= 3600)) {
        throw t.Bad("metrics_linger", "must be between 0 and 3600 seconds");
      }
      if (root.contains("run") && root["run"].is_object()) {
        for (const auto& [key, value] : root["run"].items()) {
          if (value.is_object()) spec.run.executors[key] = *t.Raw(key);
        }
      }
      t.Finish();
    }
  } catch (const Error& e) {
    throw WithContext(e, source);
  }
  return spec;
}

nlohmann::json JobSpecToJson(const JobSpec& s) {
  nlohmann::json j;
  j["input"] = {{"path", s.input.path}, {"channels", s.input.channels}};
  if (!s.input.axes.empty()) j["input"]["axes"] = s.input.axes;
  auto& o = j["output"] = {{"path", s.output.path}, {"codec", s.output.codec}};
  if (!s.output.format.empty()) o["format"] = s.output.format;
  if (s.output.dtype) o["dtype"] = DataTypeName(*s.output.dtype);
  if (s.output.chunks) o["chunks"] = *s.output.chunks;
  if (s.output.shards) o["shards"] = *s.output.shards;
  if (s.output.pyramid > 0) {
    o["pyramid"] = s.output.pyramid;
    o["pyramid_method"] = s.output.pyramid_method;
  }
  if (s.output.voxel_size) o["voxel_size"] = *s.output.voxel_size;
  j["operator"] = s.op;
  auto& t =
      j["tiling"] = {{"padding", s.tiling.padding}, {"padding_value", s.tiling.padding_value}};
  if (s.tiling.window) t["window"] = *s.tiling.window;
  if (s.tiling.overlap) t["overlap"] = *s.tiling.overlap;
  if (s.tiling.blend) t["blend"] = *s.tiling.blend;
  if (s.tiling.block) t["block"] = *s.tiling.block;
  auto& r = j["run"] = {{"threads", s.run.threads}, {"blocks_in_flight", s.run.blocks_in_flight},
                        {"retries", s.run.retries}, {"order", s.run.order},
                        {"seed", s.run.seed},       {"jobdir", s.run.jobdir}};
  if (s.run.memory > 0) r["memory"] = s.run.memory;
  if (s.run.metrics.port) r["metrics_port"] = *s.run.metrics.port;
  if (!s.run.metrics.address.empty()) r["metrics_address"] = s.run.metrics.address;
  if (s.run.metrics.linger_s > 0) r["metrics_linger"] = s.run.metrics.linger_s;
  for (const auto& [key, value] : s.run.executors.items()) r[key] = value;
  return j;
}

JobSpec ParseJobFile(const std::string& path) {
  JobSpec spec = ParseJobToml(ReadJobText(path), path);
  RebaseJobPaths(spec, path);
  return spec;
}

std::string JobDirOf(const JobSpec& spec) {
  if (spec.run.jobdir.empty()) return DefaultJobDir(spec.output.path);
  if (IsUrl(spec.run.jobdir)) {
    throw InvalidArgument(spec.source + ": [run] jobdir: " + spec.run.jobdir +
                          ": the job directory must be on a filesystem (the data may be at a URL)");
  }
  return fs::absolute(spec.run.jobdir).lexically_normal().string();
}

std::string DefaultJobDir(const std::string& output_path) {
  if (IsUrl(output_path)) {
    // An object store has no directory beside the output: the URL's path under the working
    // directory ("s3://lab/em/out.zarr/mito" -> ./s3/lab/em/out.zarr/mito.volbatch).
    const std::string url = AbsoluteLocation(output_path);
    const std::string scheme = UrlScheme(url);
    return (fs::current_path() / scheme / url.substr(scheme.size() + 3))
               .lexically_normal()
               .string() +
           ".volbatch";
  }
  fs::path p = fs::absolute(output_path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.string() + ".volbatch";
}

namespace {

std::string OutputFormat(const JobSpec& spec) {
  if (!spec.output.format.empty()) return spec.output.format;
  std::string rest = AbsoluteLocation(spec.output.path);
  while (true) {
    auto [parent, name] = SplitLocation(rest);
    if (name.size() > 3 && name.ends_with(".n5")) return "n5";
    if (name.empty() || parent == rest) return "zarr3";
    rest = parent;
  }
}

Shape WithChannels(Index channels, const Shape& spatial) {
  Shape s;
  if (channels) s.push_back(channels);
  s.insert(s.end(), spatial.begin(), spatial.end());
  return s;
}

}  // namespace

nlohmann::json ResolvedJob::Identity() const {
  nlohmann::json j;
  j["input"] = {{"path", input_path},
                {"shape", input_shape},
                {"dtype", DataTypeName(input_dtype)},
                {"channels", input_channels}};
  // Only with batch axes, so the fingerprints of jobs without them stay what they were.
  if (!batch_shape.empty()) j["input"]["axes"] = axes.letters;
  j["output"] = {{"path", output_path},     {"format", output_format},
                 {"shape", output_shape},   {"dtype", DataTypeName(output_dtype)},
                 {"chunks", output_chunks}, {"codecs", output_codecs}};
  if (output_shards) j["output"]["shards"] = *output_shards;
  j["operator"] = op->Parameters();
  j["tiling"] = {{"window", window},
                 {"overlap", overlap},
                 {"blend", blend ? BlendKindName(blend_kind) : "none"},
                 {"padding", PaddingModeName(padding.mode)},
                 {"block", block}};
  if (padding.mode == PaddingMode::kConstant) j["tiling"]["padding_value"] = padding.value;
  // Levels written by the blocks are part of what a done block means.
  if (!block_levels.empty()) {
    nlohmann::json levels = nlohmann::json::array();
    for (const auto& l : block_levels) {
      levels.push_back({{"path", l.path}, {"factor", l.factor}, {"shape", l.shape}});
    }
    j["pyramid"] = {{"method", spec.output.pyramid_method}, {"block_levels", levels}};
  }
  return j;
}

BlockGrid ResolvedJob::Grid() const {
  const Shape ones(batch_shape.size(), 1);
  return BlockGrid(Concat(batch_shape, output_spatial), Concat(ones, block), Concat(ones, unit));
}

BlockGrid IdentityBlockGrid(const nlohmann::json& id) {
  Shape shape = id.at("output").at("shape").get<Shape>();
  Shape block = id.at("tiling").at("block").get<Shape>();
  // Batch axes lead the output (one block per index), then the channel axis if any.
  const std::string axes = id.value("input", nlohmann::json::object()).value("axes", std::string());
  const size_t nb = axes.empty() ? 0 : axes.find_first_of("czyx");
  if (shape.size() == nb + block.size() + 1) {
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(nb));
  }
  block.insert(block.begin(), nb, 1);
  return BlockGrid(shape, block, block);
}

int64_t ResolvedJob::BlockBytes(const Shape& blk) const {
  // The windows touching a block reach at most one window beyond it on each side; the input
  // is that hull mapped to input space plus context, read once and padded once (2 copies).
  const size_t r = blk.size();
  Shape hull(r), in(r);
  for (size_t i = 0; i < r; ++i) {
    hull[i] = std::min(blk[i], output_spatial[i]) + 2 * window[i];
    in[i] = hull[i] * scale.down[i] / scale.up[i] + 2 * context[i];
  }
  const double c_in = std::max<Index>(1, input_channels);
  const double c_out = std::max<Index>(1, output_channels);
  const double c_compute = std::max<Index>(1, compute_channels);
  double v_block = 1, v_in = 1;
  for (size_t i = 0; i < r; ++i) {
    v_block *= static_cast<double>(std::min(blk[i], output_spatial[i]));
    v_in *= static_cast<double>(in[i]);
  }
  double bytes = 2 * v_in * c_in * static_cast<double>(ByteSize(input_dtype));
  bytes += v_block * c_compute * static_cast<double>(ByteSize(compute_dtype));
  if (blend) bytes += v_block * (c_compute + 1) * 4;
  bytes += v_block * c_out * static_cast<double>(ByteSize(output_dtype));
  return static_cast<int64_t>(std::min(bytes, 9e18));
}

namespace {

// Whether cutting into `next` rather than `blk` saves a tenth of the forward passes: with
// overlapping windows, a window that straddles blocks runs once per block it touches, up to
// (1 + window / block)^3 times the lattice's windows (3.4x for 64^3 windows in 128^3 blocks).
bool FewerWindowRuns(const ResolvedJob& job, const Shape& blk, const Shape& next) {
  const Lattice lattice(job.output_spatial, job.window, job.overlap, job.scale.up);
  return static_cast<double>(lattice.WindowsComputed(next)) <
         0.9 * static_cast<double>(lattice.WindowsComputed(blk));
}

// The largest block that fits the memory budget, grown from one chunk (shard) an axis at a
// time.
Shape DefaultBlock(const ResolvedJob& job) {
  const size_t rank = job.output_spatial.size();
  Shape blk = job.unit;
  const int64_t budget = job.memory / std::max(1, job.blocks_in_flight);
  while (true) {
    // Grow the axis that is smallest in voxels (keeps blocks compact: less halo per voxel),
    // while the block still fits the budget and is not already the whole axis.
    int best = -1;
    for (size_t i = 0; i < rank; ++i) {
      if (blk[i] >= job.output_spatial[i]) continue;
      if (best < 0 || blk[i] < blk[static_cast<size_t>(best)]) best = static_cast<int>(i);
    }
    if (best < 0) break;
    Shape next = blk;
    next[static_cast<size_t>(best)] *= 2;
    if (job.BlockBytes(next) > budget) break;
    // Keep enough blocks to fill the pipeline (reads and writes overlap compute only across
    // blocks) once the block is big enough that its halo no longer dominates.
    Index blocks = 1;
    for (size_t i = 0; i < rank; ++i) {
      blocks *= (job.output_spatial[i] + next[i] - 1) / next[i];
    }
    const bool few_blocks = blocks < 4 * static_cast<Index>(job.blocks_in_flight);
    // Window operators (models) stop there too, unless a bigger block runs fewer windows: a
    // block is only a queue of windows, and past 2^21 voxels a bigger one adds accumulators
    // whose memory traffic competes with the model's (a U-Net over 256x1024x1024 on a lattice
    // of the blocks ran 25% slower with 256^3 blocks than 128^3).
    const bool windows_settled = !job.op->Exact() && !FewerWindowRuns(job, blk, next);
    if ((few_blocks || windows_settled) && NumElements(blk, "block") >= Index{1} << 21) break;
    blk = next;
  }
  return blk;
}

// The spatial axes of a full input or output shape: what follows the batch and channel axes.
Shape SpatialPart(const ResolvedJob& job, const Shape& full, Index channels) {
  const size_t skip = job.batch_shape.size() + (channels ? 1 : 0);
  return Shape(full.begin() + static_cast<std::ptrdiff_t>(skip), full.end());
}

// A chunk or shard shape given as spatial, [c, spatial] or full: the full shape, with the
// channel axis one piece and each batch axis pieces of 1 (a block is one batch index, so it
// owns a chunk only if no other index shares it).
template <typename Fail>
Shape FullPieces(const ResolvedJob& job, Shape pieces, const char* field, const Fail& fail) {
  const size_t rank = job.output_spatial.size(), nb = job.batch_shape.size();
  const Index c = job.output_channels;
  if (pieces.size() == rank && c) pieces.insert(pieces.begin(), c);
  if (pieces.size() + nb == job.output_shape.size()) pieces = Concat(Shape(nb, 1), pieces);
  if (pieces.size() != job.output_shape.size()) {
    throw fail(field, ShapeToString(pieces) + " has " + std::to_string(pieces.size()) +
                          " axes; the output " + ShapeToString(job.output_shape) + " has " +
                          std::to_string(job.output_shape.size()));
  }
  for (Index p : pieces) {
    if (p < 1) throw fail(field, ShapeToString(pieces) + " must be positive");
  }
  for (size_t i = 0; i < nb; ++i) {
    if (pieces[i] != 1) {
      throw fail(field, ShapeToString(pieces) + ": the batch axes (" +
                            job.axes.letters.substr(0, nb) +
                            ") must be pieces of 1, so that a block owns whole pieces");
    }
  }
  if (c && pieces[nb] != c) {
    throw fail(field, "the channel axis must be one piece (" + std::to_string(c) +
                          "), so that a block owns whole pieces");
  }
  return pieces;
}

// Format, chunks, shards, codecs and the storage unit blocks are made of.
template <typename Fail>
void ResolveOutputLayout(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  job.output_format = OutputFormat(spec);
  job.output_chunks =
      FullPieces(job, spec.output.chunks.value_or(Shape(job.output_spatial.size(), 64)),
                 "[output] chunks", fail);
  if (spec.output.shards) {
    if (job.output_format != "zarr3") {
      throw fail("[output] shards", "sharding needs a Zarr v3 output (format = \"zarr3\")");
    }
    const Shape shards = FullPieces(job, *spec.output.shards, "[output] shards", fail);
    for (size_t i = 0; i < shards.size(); ++i) {
      if (shards[i] % job.output_chunks[i] != 0) {
        throw fail("[output] shards", ShapeToString(shards) + " must be a multiple of the chunks " +
                                          ShapeToString(job.output_chunks));
      }
    }
    job.output_shards = shards;
  }
  try {
    job.output_codecs = ParseCodecSpec(spec.output.codec, job.output_dtype);
  } catch (const Error& e) {
    throw WithContext(e, spec.source + ": [output] codec");
  }
  job.unit = SpatialPart(job, job.output_shards.value_or(job.output_chunks), job.output_channels);
}

// Which pyramid levels the blocks can write themselves: level k needs factors that divide the
// block's origin, and a block part that is whole level-k chunks (or the whole axis).
template <typename Fail>
void ResolveBlockLevels(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  const size_t rank = job.output_spatial.size();
  if (!(rank == 3 || (rank == 2 && !job.output_channels))) {
    throw fail("[output] pyramid", "a pyramid needs axes ([c,] z, y, x) or (y, x); the output " +
                                       ShapeToString(job.output_shape) + " has " +
                                       std::to_string(job.output_shape.size()));
  }
  const std::vector<double> voxel = JobVoxelSize(spec, job.input_spatial, job.output_spatial);
  if (voxel.size() != rank) {
    throw fail("[output] voxel_size", std::to_string(voxel.size()) + " values for " +
                                          std::to_string(rank) + " spatial axes");
  }
  const std::vector<Shape> factors = PyramidFactors(job.output_spatial, voxel, spec.output.pyramid);
  for (const Shape& f : factors) {
    std::unique_ptr<Operator> reduce = MakeOperator(
        {{"type", "downsample"}, {"factor", f}, {"method", spec.output.pyramid_method}}, rank);
    try {
      reduce->CheckOutputDType(job.output_dtype, job.output_dtype);
    } catch (const Error& e) {
      throw fail("[output] pyramid_method", e.what());
    }
  }
  const auto [out_parent, out_name] = SplitLocation(job.output_path);
  const std::vector<std::string> names = PyramidLevelNames(out_name, spec.output.pyramid);
  const Shape chunks = SpatialPart(job, job.output_chunks, job.output_channels);
  Shape total(rank, 1), shape = job.output_spatial;
  for (size_t k = 0; k < factors.size(); ++k) {
    bool whole = true;
    for (size_t a = 0; a < rank; ++a) {
      total[a] *= factors[k][a];
      shape[a] = (shape[a] + factors[k][a] - 1) / factors[k][a];
      whole = whole &&
              (job.block[a] >= job.output_spatial[a] || job.block[a] % (total[a] * chunks[a]) == 0);
    }
    if (!whole) break;
    job.block_levels.push_back(
        {JoinLocation(out_parent, names[k]), factors[k], WithChannels(job.output_channels, shape)});
  }
}

}  // namespace

Box FullBox(const Box& spatial, Index channels) {
  if (!channels) return spatial;
  Box b = spatial;
  b.begin.insert(b.begin.begin(), 0);
  b.shape.insert(b.shape.begin(), channels);
  return b;
}

Box WithBatch(const Shape& batch, const Box& box) {
  if (batch.empty()) return box;
  return Box(Concat(batch, box.begin), Concat(Shape(batch.size(), 1), box.shape));
}

namespace {

// Opens the input and names its axes: batch, channel, spatial.
template <typename Fail>
void ResolveInput(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  job.input = [&] {
    try {
      return std::make_shared<const Dataset>(Dataset::Open(job.input_path));
    } catch (const Error& e) {
      throw WithContext(e, spec.source + ": [input] path");
    }
  }();
  const Dataset& input = *job.input;
  job.input_shape = input.shape();
  job.input_dtype = input.dtype();
  job.axes = ResolveInputAxes(spec.input.axes, spec.input.channels, job.input_path, input.rank(),
                              spec.source);
  job.batch_shape = job.axes.BatchShape(job.input_shape);
  if (job.axes.channels) {
    if (input.rank() < 2) throw fail("[input] channels", "a channel axis needs rank >= 2");
    job.input_channels = input.shape()[job.batch_shape.size()];
  }
  job.input_spatial = SpatialPart(job, job.input_shape, job.input_channels);
  if (!job.batch_shape.empty() && spec.output.pyramid > 0) {
    throw fail("[output] pyramid", "an output with batch axes (" + job.axes.letters +
                                       ") has no pyramid here; build one per batch index");
  }
}

// The operator, its channels, scale and context, and the output's shape and element type.
template <typename Fail>
void ResolveOperator(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  const size_t rank = job.input_spatial.size();
  try {
    job.op = MakeOperator(spec.op, rank);
  } catch (const Error& e) {
    throw WithContext(e, spec.source);
  }
  // Threads first: a model's dry run (in OutputChannels) runs with them and warms them up.
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  job.threads = spec.run.threads > 0 ? spec.run.threads : cores;
  job.op->SetThreads(job.threads);
  job.scale = job.op->GetScale();
  job.context = job.op->Context();
  try {
    job.output_channels = job.op->OutputChannels(job.input_channels);
    job.compute_channels = job.op->ComputeChannels(job.input_channels);
  } catch (const Error& e) {
    throw WithContext(e, spec.source);
  }
  job.output_spatial = job.scale.OutputShape(job.input_spatial);
  job.output_shape = Concat(job.batch_shape, WithChannels(job.output_channels, job.output_spatial));
  job.compute_dtype = job.op->ComputeDType(job.input_dtype);
  job.output_dtype = spec.output.dtype.value_or(job.compute_dtype);
  try {
    job.op->CheckOutputDType(job.input_dtype, job.output_dtype);
  } catch (const Error& e) {
    throw fail("[output] dtype", std::string(DataTypeName(job.output_dtype)) + ": " + e.what());
  }
  job.op->SetOutputDType(job.output_dtype);
  job.compute_dtype = job.op->ComputeDType(job.input_dtype);
}

// Window, overlap and blending on the output's lattice.
template <typename Fail>
void ResolveTiling(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  const size_t rank = job.input_spatial.size();
  if (spec.tiling.window) {
    job.window = *spec.tiling.window;
  } else {
    job.window = job.op->DefaultWindow();
    // A window must map to whole input voxels: a multiple of the up-scale on every axis.
    for (size_t i = 0; i < job.window.size() && i < rank; ++i) {
      const Index up = job.scale.up[i];
      job.window[i] = (job.window[i] + up - 1) / up * up;
    }
    if (job.op->Exact() && job.window.size() == rank) {
      // An exact operator needs no particular window: one that divides the storage unit never
      // straddles a block border, so a block computes nothing outside itself.
      for (size_t i = 0; i < rank; ++i) {
        const Index w = std::min(job.window[i], job.unit[i]);
        if (job.unit[i] % w == 0 && w % job.scale.up[i] == 0) job.window[i] = w;
      }
    }
  }
  if (job.window.size() != rank) {
    throw fail("[tiling] window", ShapeToString(job.window) + " must have " + std::to_string(rank) +
                                      " axes (z, y, x)");
  }
  job.overlap = spec.tiling.overlap.value_or(Shape(rank, 0));
  if (job.overlap.size() != rank) {
    throw fail("[tiling] overlap",
               ShapeToString(job.overlap) + " must have " + std::to_string(rank) + " axes");
  }
  for (size_t i = 0; i < rank; ++i) {
    if (job.window[i] < 1)
      throw fail("[tiling] window", ShapeToString(job.window) + " must be positive");
    if (job.overlap[i] < 0 || job.overlap[i] >= job.window[i]) {
      throw fail("[tiling] overlap", ShapeToString(job.overlap) +
                                         " must be >= 0 and smaller than the window " +
                                         ShapeToString(job.window) + " on every axis");
    }
    if (job.window[i] % job.scale.up[i] != 0 ||
        (job.window[i] - job.overlap[i]) % job.scale.up[i] != 0) {
      throw fail("[tiling] window", ShapeToString(job.window) +
                                        " and window - overlap must be multiples of the scale " +
                                        job.scale.ToString());
    }
  }
  const std::string blend = spec.tiling.blend.value_or(job.op->Exact() ? "none" : "gaussian");
  job.blend = blend != "none";
  if (!job.blend && job.compute_channels != job.output_channels) {
    throw fail("[tiling] blend", "\"none\" cannot be used with " + job.op->name() +
                                     ", whose windows are reduced after blending");
  }
  if (job.blend) {
    try {
      job.blend_kind = ParseBlendKind(blend);
    } catch (const Error& e) {
      throw WithContext(e, spec.source);
    }
  } else if (!job.op->Exact()) {
    throw fail("[tiling] blend", "\"none\" needs an exact operator; " + job.op->name() +
                                     " windows must be blended (constant, linear, gaussian, bump)");
  }
}

// How the input is padded beyond its border (a constant the input's type holds exactly).
template <typename Fail>
void ResolvePadding(ResolvedJob& job, const Fail& fail) {
  const JobSpec& spec = job.spec;
  try {
    job.padding.mode = ParsePaddingMode(spec.tiling.padding);
  } catch (const Error& e) {
    throw WithContext(e, spec.source);
  }
  job.padding.value = spec.tiling.padding_value;
  if (job.padding.mode == PaddingMode::kConstant) {
    // The padding is made in the input's type; a value it cannot hold would be changed.
    const double v = job.padding.value;
    bool exact = true;
    VisitDataType(job.input_dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_arithmetic_v<T>) {
        exact = std::isfinite(v) ? (v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                                    v <= static_cast<double>(std::numeric_limits<T>::max()) &&
                                    static_cast<double>(static_cast<T>(v)) == v)
                                 : std::is_floating_point_v<T>;
      }
    });
    if (!exact) {
      throw fail("[tiling] padding_value",
                 std::to_string(v) + " cannot be held exactly by the input's " +
                     std::string(DataTypeName(job.input_dtype)) + " data");
    }
  }
}

// Threads in flight, memory, the block (given, stored by an earlier run, or the largest that
// fits the budget) and the pyramid levels the blocks write.
template <typename Fail>
void ResolveBlock(ResolvedJob& job, const std::optional<Shape>& stored_block, const Fail& fail) {
  const JobSpec& spec = job.spec;
  const size_t rank = job.input_spatial.size();
  job.blocks_in_flight =
      spec.run.blocks_in_flight > 0 ? spec.run.blocks_in_flight : job.threads + 1;
  job.memory = spec.run.memory > 0 ? spec.run.memory : int64_t{2} << 30;

  // Block: given, stored by an earlier run, or the largest that fits the budget.
  if (spec.tiling.block) {
    job.block = *spec.tiling.block;
    if (job.block.size() != rank) {
      throw fail("[tiling] block",
                 ShapeToString(job.block) + " must have " + std::to_string(rank) + " axes");
    }
    for (size_t i = 0; i < rank; ++i) {
      if (job.block[i] < 1 || job.block[i] % job.unit[i] != 0) {
        throw fail("[tiling] block",
                   ShapeToString(job.block) + " is not a multiple of the output's " +
                       (job.output_shards ? "shards " : "chunks ") + ShapeToString(job.unit) +
                       " (a block must own whole " + (job.output_shards ? "shards)" : "chunks)"));
      }
    }
  } else if (stored_block && stored_block->size() == rank) {
    job.block = *stored_block;
  } else {
    job.block = DefaultBlock(job);
  }
  if (job.op->Exact() && !spec.tiling.window && !job.blend) {
    bool aligned = true;
    for (size_t i = 0; i < rank; ++i) aligned = aligned && job.block[i] % job.scale.up[i] == 0;
    if (aligned) {
      job.block_windows = true;
      for (size_t i = 0; i < rank; ++i)
        job.window[i] = std::min(job.block[i], job.output_spatial[i]);
    }
  }
  if (spec.output.pyramid > 0) ResolveBlockLevels(job, fail);
  if (job.BlockBytes(job.unit) > job.memory) {
    throw fail("[run] memory", std::to_string(job.memory) + " bytes cannot hold one block of " +
                                   ShapeToString(job.unit) + " (needs about " +
                                   std::to_string(job.BlockBytes(job.unit)) + " bytes)");
  }
}

}  // namespace

ResolvedJob ResolveJob(const JobSpec& spec, const std::optional<Shape>& stored_block) {
  ResolvedJob job;
  job.spec = spec;
  job.input_path = AbsoluteLocation(spec.input.path);
  job.output_path = AbsoluteLocation(spec.output.path);
  job.jobdir = JobDirOf(spec);
  auto fail = [&](const std::string& field, const std::string& what) {
    return InvalidArgument(spec.source + ": " + field + ": " + what);
  };
  if (job.input_path == job.output_path) {
    throw fail("[output] path", "is the input dataset; the engine never writes its input");
  }
  // Before anything is created beside the output (its job directory would make "out.h5" a
  // directory, which no longer looks like an HDF5 file).
  try {
    RefuseHdf5Write(job.output_path);
  } catch (const Error& e) {
    throw WithContext(e, spec.source + ": [output] path");
  }
  ResolveInput(job, fail);
  ResolveOperator(job, fail);
  ResolveOutputLayout(job, fail);
  ResolveTiling(job, fail);
  ResolvePadding(job, fail);
  ResolveBlock(job, stored_block, fail);
  return job;
}

}  // namespace volbatch
