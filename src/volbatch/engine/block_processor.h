// BlockProcessor: one block from input to output, in three steps the pipeline overlaps:
//   Read    — the input under every window touching the block (the windows' hull mapped to
//             input space, grown by the operator's context), padded virtually at the border;
//   Compute — every window on the global lattice that touches the block, in lattice order,
//             blended (sum w*y / sum w) or, for exact operators, copied as they are;
//   Write   — the block's whole chunks, made durable by Sync (one Sync for a group of blocks:
//             group_commit.h).
// A block's result depends only on the lattice and the padded volume, never on the block
// (DESIGN invariants 2 and 3): the output is bit-identical for any block size, thread count
// or order.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "volbatch/core/spares.h"
#include "volbatch/engine/block_levels.h"
#include "volbatch/engine/job.h"
#include "volbatch/store/dataset.h"
#include "volbatch/tile/block_grid.h"
#include "volbatch/tile/lattice.h"

namespace volbatch {

struct BlockInput {
  Index block = 0;
  Shape batch;             // the batch index the block belongs to (empty: no batch axes)
  Box region;              // output space, spatial: what the block writes
  Box input_box;           // input space, spatial: what `data` covers
  Array data;              // [c?, input_box]
  int64_t bytes_read = 0;  // decoded bytes read from the input (before padding)
};

// Where a window operator's compute time goes (thread-seconds, summed over blocks): gathering
// the windows' inputs from the block, the operator (a model: normalize, forward, crop), and
// blending the results (sum w*y / sum w, the division, the operator's finish, the cast).
struct ComputeSplit {
  double gather_s = 0, operator_s = 0, blend_s = 0;
};

// Adds the time since `since` to a nanosecond tally (the engine's thread-seconds); returns now,
// the start of whatever is timed next.
inline std::chrono::steady_clock::time_point AddNs(std::atomic<int64_t>& tally,
                                                   std::chrono::steady_clock::time_point since) {
  const auto now = std::chrono::steady_clock::now();
  tally += std::chrono::duration_cast<std::chrono::nanoseconds>(now - since).count();
  return now;
}

class BlockProcessor {
 public:
  BlockProcessor(const ResolvedJob& job, std::shared_ptr<const Dataset> input,
                 std::shared_ptr<Dataset> output,
                 std::vector<std::shared_ptr<Dataset>> levels = {});

  const BlockGrid& grid() const { return grid_; }
  const Lattice& lattice() const { return lattice_; }

  BlockInput Read(Index block) const;
  // [c_out?, region] in the output's element type.
  // Takes the input: a block computed as one window hands it to the operator uncopied.
  Array Compute(BlockInput in) const;
  // The block's pyramid levels (none unless the job writes them with its blocks).
  std::vector<Array> Levels(const Box& region, const Array& data) const {
    return levels_.empty() ? std::vector<Array>{} : levels_.Reduce(region, data);
  }
  // Writes the block's chunks (and its levels') at batch index `batch`; durable once Sync
  // returns.
  void Write(const Shape& batch, const Box& region, Array data,
             const std::vector<Array>& levels = {}) const;
  // Makes every chunk written so far durable (output and levels).
  void Sync() const;
  // The split of every Compute so far (zero for blocks computed as one window).
  ComputeSplit Split() const;

 private:
  const ResolvedJob& job_;
  std::shared_ptr<const Dataset> input_;
  std::shared_ptr<Dataset> output_;
  BlockGrid grid_;
  Lattice lattice_;
  BlockLevels levels_;
  std::vector<float> weights_;  // blend weights over one window (empty: no blending)
  // The blend's sums of finished blocks, kept for the next (a block's are 8 bytes a voxel,
  // 128 MiB for 256^3).
  mutable Spares<std::vector<float>> spare_sums_;
  mutable std::atomic<int64_t> gather_ns_{0}, operator_ns_{0}, blend_ns_{0};
};

}  // namespace volbatch
