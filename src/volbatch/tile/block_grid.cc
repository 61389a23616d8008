#include "volbatch/tile/block_grid.h"

#include <algorithm>

#include "volbatch/core/error.h"

namespace volbatch {

BlockGrid::BlockGrid(Shape volume, Shape block, const Shape& unit)
    : volume_(std::move(volume)), block_(std::move(block)) {
  if (block_.size() != volume_.size() || unit.size() != volume_.size()) {
    throw InvalidArgument("[tiling] block: " + ShapeToString(block_) + " has rank " +
                          std::to_string(block_.size()) + ", the output has rank " +
                          std::to_string(volume_.size()));
  }
  counts_.resize(volume_.size());
  for (size_t i = 0; i < volume_.size(); ++i) {
    if (block_[i] < 1 || block_[i] % unit[i] != 0) {
      throw InvalidArgument("[tiling] block: " + ShapeToString(block_) +
                            " is not a multiple of the output's chunks " + ShapeToString(unit) +
                            " (blocks must own whole chunks" + std::string(" or shards)"));
    }
    counts_[i] = std::max<Index>(1, (volume_[i] + block_[i] - 1) / block_[i]);
  }
  num_blocks_ = NumElements(counts_, "block grid");
}

Shape BlockGrid::BlockPosition(Index index) const {
  if (index < 0 || index >= num_blocks_) {
    throw InvalidArgument("block " + std::to_string(index) + " is outside the grid of " +
                          std::to_string(num_blocks_) + " blocks");
  }
  Shape pos(counts_.size());
  for (size_t i = counts_.size(); i-- > 0;) {
    pos[i] = index % counts_[i];
    index /= counts_[i];
  }
  return pos;
}

Box BlockGrid::BlockBox(Index index) const {
  const Shape pos = BlockPosition(index);
  Box b(Shape(pos.size()), Shape(pos.size()));
  for (size_t i = 0; i < pos.size(); ++i) {
    b.begin[i] = pos[i] * block_[i];
    b.shape[i] = std::min(block_[i], volume_[i] - b.begin[i]);
  }
  return b;
}

}  // namespace volbatch
