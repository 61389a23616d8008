// The storage planner: for a dataset (or a shape and dtype) and the user's constraints, the
// candidate chunk shapes, shard shapes and codecs as numbers: files on disk and in the fullest
// directory, bytes per chunk, the compression ratio and decode throughput measured on a sample
// of the real data (chunks cut from the dataset at spread positions, encoded and decoded here
// with the candidate's codecs, one thread), the model windows per block and the memory a block
// needs. What the poster calls balancing shared filesystem capacity, node storage, compression
// and inodes.
//
// Files are chunk (or shard) files of a dense Zarr v3 array with "/" keys; chunks that are the
// fill value everywhere are not written, so a sparse volume has fewer. Metadata files are not
// counted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "volbatch/core/box.h"
#include "volbatch/core/dtype.h"

namespace volbatch {

struct PlanOptions {
  std::string dataset;         // measured from; or empty with shape and dtype
  Shape shape;                 // when there is no dataset
  DataType dtype = DataType::kUint8;
  std::vector<std::string> codecs = {"zstd:3", "blosc:lz4:5:shuffle", "gzip:6"};
  std::vector<Shape> chunks;   // empty: cubes and z-thin shapes around target_chunk_bytes
  int64_t target_chunk_bytes = 1 << 20;
  int64_t max_files = 0;       // 0: no limit; beyond it, candidates get shards
  int64_t max_files_per_dir = 0;
  std::optional<Shape> window;  // the model's input window (default: the chunk)
  int64_t gpu_memory = 0;       // bytes; with window: the batch that fits
  int sample_chunks = 16;
};

struct PlanCandidate {
  Shape chunks;
  std::optional<Shape> shards;
  std::string codec;
  int64_t files = 0;            // chunk or shard files
  int64_t files_per_dir = 0;    // in the fullest directory
  int64_t chunk_bytes = 0;      // decoded
  double ratio = 0;             // decoded / encoded on the sample; 0: no data to measure
  double decode_mb_s = 0;       // decoded MB per second, one thread
  int64_t windows_per_block = 0;
  int64_t block_memory = 0;     // bytes a block (one storage unit) needs in the engine
  int64_t gpu_batch = 0;        // windows per GPU batch that fit; 0: not asked
  std::vector<std::string> problems;  // constraints it breaks
};

std::vector<PlanCandidate> PlanStorage(const PlanOptions& options);
std::string PlanTable(const std::vector<PlanCandidate>& candidates);

}  // namespace volbatch
