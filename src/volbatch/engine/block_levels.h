// BlockLevels: the pyramid levels a block writes as it finishes (ResolvedJob::block_levels).
// Level k of a block is computed from the block's level k - 1 in memory, exactly as the
// downsample pass computes it from the stored level k - 1 (same operator, same cast), so a
// level is byte-identical whichever way it was written. Each block's part of a level is whole
// chunks of that level (ResolveJob checks it), so blocks never share a level chunk: no
// read-modify-write, no locks, and a block redone after a crash rewrites the same bytes.
// Cost: one reduction pass over the block per level (1/8 of the voxels of the level before for
// 2x2x2) plus its encode; no reads.
#pragma once

#include <memory>
#include <vector>

#include "volbatch/core/array.h"
#include "volbatch/engine/job.h"
#include "volbatch/store/dataset.h"

namespace volbatch {

// Opens the job's block levels beside its output, each checked against the job's layout;
// `owned` as for the output: an existing level is written into only by its own job or with
// --force. A missing level is created, skipped (a check before anything is written) or an
// error (a worker's job must have been prepared).
enum class MissingLevel { kCreate, kSkip, kRefuse };
std::vector<std::shared_ptr<Dataset>> PrepareBlockLevels(const ResolvedJob& job, bool owned,
                                                         MissingLevel missing);

class BlockLevels {
 public:
  BlockLevels(const ResolvedJob& job, std::vector<std::shared_ptr<Dataset>> datasets);
  bool empty() const { return datasets_.empty(); }

  // Levels 1.. of `data`, the block's output over `region` (spatial), in the output's type.
  std::vector<Array> Reduce(const Box& region, const Array& data) const;
  // Writes them (durable at the next Sync).
  void Write(const Box& region, const std::vector<Array>& levels) const;
  void Sync() const;

 private:
  const ResolvedJob& job_;
  std::vector<std::shared_ptr<Dataset>> datasets_;
  std::vector<std::shared_ptr<Operator>> reducers_;
  std::vector<Shape> spatial_;  // of every level, level 0 first
};

}  // namespace volbatch
