// Job: what `volbatch run` does, read from the TOML job file (see DESIGN.md "The job file").
// Every table is read key by key and unknown keys are errors naming "[table] key", so a typo
// cannot silently change what runs. The spec is then resolved against the input dataset and
// the operator (ResolveJob) into the geometry the engine works with.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/core/box.h"
#include "volbatch/core/dtype.h"
#include "volbatch/engine/input_axes.h"
#include "volbatch/engine/metrics_settings.h"
#include "volbatch/ops/operator.h"
#include "volbatch/tile/blend.h"
#include "volbatch/tile/block_grid.h"
#include "volbatch/tile/padding.h"

namespace volbatch {

class Dataset;

struct JobSpec {
  std::string source;  // the job file, for messages
  struct Input {
    std::string path;
    bool channels = false;  // the dataset's first axis is channels
    // "tczyx": batch axes, channel axis c, spatial z y x (input_axes.h); "" = from the input's
    // OME-Zarr metadata, else `channels` alone.
    std::string axes;
  } input;
  struct Output {
    std::string path;
    std::string format;             // "" = from the path
    std::optional<DataType> dtype;  // default: what the operator computes
    std::optional<Shape> chunks;    // spatial, or with the channel axis first
    std::string codec = "zstd:3";
    std::optional<Shape> shards;
    int pyramid = 0;                      // downsampled levels (see pyramid.h)
    std::string pyramid_method = "mean";  // "mean" | "mode"
    // Spatial voxel size, which decides the pyramid's factors; default the input's, as its
    // attributes say (JobVoxelSize in pyramid.h), else 1 on every axis.
    std::optional<std::vector<double>> voxel_size;
  } output;
  nlohmann::json op = nlohmann::json::object();  // the [operator] table
  struct Tiling {
    std::optional<Shape> window;   // output space; default: the operator's
    std::optional<Shape> overlap;  // default 0
    std::optional<std::string> blend;
    std::string padding = "reflect";
    double padding_value = 0;
    std::optional<Shape> block;
  } tiling;
  struct Run {
    int threads = 0;                // 0: every core
    int64_t memory = 0;             // bytes; 0: the default budget
    int blocks_in_flight = 0;       // 0: threads + 1
    int retries = 1;                // re-tries of a failing block within one run
    std::string order = "lattice";  // "lattice" | "shuffle" (a test of order independence)
    uint64_t seed = 0;
    std::string jobdir;       // "" = beside the output
    MetricsSettings metrics;  // metrics_port, metrics_address, metrics_linger
    // [run.slurm], [run.k8s], ...: each executor's own table, checked by that executor.
    nlohmann::json executors = nlohmann::json::object();
  } run;
};

// Throws InvalidArgument naming the file and "[table] key" for anything wrong.
JobSpec ParseJobFile(const std::string& path);
JobSpec ParseJobToml(const std::string& text, const std::string& source);
// A TOML document as JSON; syntax errors name source:line:column.
nlohmann::json ParseTomlDocument(const std::string& text, const std::string& source);
// The text of a job (or workflow) file; NotFound naming it if it cannot be read.
std::string ReadJobText(const std::string& path);
// Makes the spec's relative paths (input, output, job directory, model) relative to the
// directory of `job_file`, so a job runs from any directory.
void RebaseJobPaths(JobSpec& spec, const std::string& job_file);
// The same from the job's tables as JSON (what job.json keeps, so `volbatch work` needs only
// the job directory); JobSpecToJson is its inverse.
JobSpec ParseJobJson(const nlohmann::json& root, const std::string& source);
nlohmann::json JobSpecToJson(const JobSpec& spec);
// "4GiB", "512 MiB", "1e9", 1000000 -> bytes; throws naming `what`.
int64_t ParseByteSize(const nlohmann::json& value, const std::string& what);

// The job resolved against its input and operator: everything a block needs.
struct ResolvedJob {
  JobSpec spec;
  std::string input_path, output_path, jobdir;  // absolute
  // Opened once, by ResolveJob: every open reads the array's metadata again (and on a shared
  // filesystem, each read is a round trip per worker start).
  std::shared_ptr<const Dataset> input;
  Shape input_shape;  // full: batch axes, channels, spatial
  DataType input_dtype = DataType::kUint8;
  InputAxes axes;
  // The batch axes' extents (empty: none). The input and the output lead with them; the
  // operator runs on each index's [c?, spatial] volume, and a block is one index's region.
  Shape batch_shape;
  Index input_channels = 0;  // 0: no channel axis
  Shape input_spatial;
  std::shared_ptr<Operator> op;
  Scale scale;
  Shape context;
  Index output_channels = 0;
  Index compute_channels = 0;  // what windows return and blending accumulates
  Shape output_spatial;
  Shape output_shape;  // full: batch axes, channels, spatial
  DataType compute_dtype = DataType::kFloat32;
  DataType output_dtype = DataType::kFloat32;
  Shape output_chunks;                 // full
  std::optional<Shape> output_shards;  // full
  std::string output_format;           // n5 | zarr2 | zarr3
  nlohmann::json output_codecs;
  Shape unit;             // spatial storage unit (shard or chunk)
  Shape window, overlap;  // output space
  bool blend = false;
  BlendKind blend_kind = BlendKind::kConstant;
  Padding padding;
  Shape block;  // spatial
  // An exact operator with no window given computes each block as one window: any window
  // gives the same values, and the block's own needs no halo between windows and no copies.
  // `window` then equals `block`.
  bool block_windows = false;
  // The pyramid levels each block writes as it finishes ([output] pyramid): level k's part of
  // a block is whole chunks of level k, so no two blocks share a level chunk. Levels past the
  // first that is not whole chunks are left to a pass after the run (BuildPyramid).
  struct PyramidLevel {
    std::string path;  // absolute
    Shape factor;      // spatial, relative to the level before
    Shape shape;       // full, with channels first if any
  };
  std::vector<PyramidLevel> block_levels;
  int threads = 1;
  int blocks_in_flight = 2;
  int64_t memory = 0;

  // What identifies the job's output: input metadata, output layout, operator, tiling.
  nlohmann::json Identity() const;
  // The blocks: the batch indices (one per block) by the spatial blocks, in C order.
  BlockGrid Grid() const;
  // Estimated peak bytes one block in flight needs.
  int64_t BlockBytes(const Shape& block) const;
};

// Opens the input, builds the operator, checks every field against the others. `stored_block`
// is the block of an existing job directory, used when the job names none (so a resume keeps
// the same block grid whatever the memory budget says).
ResolvedJob ResolveJob(const JobSpec& spec,
                       const std::optional<Shape>& stored_block = std::nullopt);

// The block grid a stored job identity (job.json's "identity") describes: its output shape
// without the channel axis, blocks of tiling.block, one batch index per block. Throws
// nlohmann::json::exception on a missing field.
BlockGrid IdentityBlockGrid(const nlohmann::json& identity);

// `spatial` with a channel axis of `channels` prepended (none when channels is 0).
Box FullBox(const Box& spatial, Index channels);
// `box` with the batch index `batch` prepended (extent 1 on each batch axis).
Box WithBatch(const Shape& batch, const Box& box);

// The default job directory of an output dataset: "<output>.volbatch" beside it; for an output
// at a URL, which has no directory beside it, the URL's path under the working directory
// ("s3://lab/out.zarr/mito" -> "./s3/lab/out.zarr/mito.volbatch").
std::string DefaultJobDir(const std::string& output_path);
// The job's directory, absolute: [run] jobdir, or the default one beside its output.
std::string JobDirOf(const JobSpec& spec);

}  // namespace volbatch
