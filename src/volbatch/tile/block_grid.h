// BlockGrid: the output volume cut into blocks, the unit of work, of ownership and of the
// ledger. A block's shape is a multiple of the output's storage unit (chunk, or shard when
// sharded), so each block writes whole files that no other block touches (DESIGN invariant 1);
// edge blocks are clipped to the volume. Blocks are numbered in C order.
#pragma once

#include "volbatch/core/box.h"

namespace volbatch {

class BlockGrid {
 public:
  // Throws InvalidArgument naming "[tiling] block" unless `block` is a positive multiple of
  // `unit` on every axis.
  BlockGrid(Shape volume, Shape block, const Shape& unit);

  const Shape& volume() const { return volume_; }
  const Shape& block() const { return block_; }
  const Shape& counts() const { return counts_; }
  Index num_blocks() const { return num_blocks_; }
  // The write region of block `index` (clipped to the volume).
  Box BlockBox(Index index) const;
  Shape BlockPosition(Index index) const;

 private:
  Shape volume_, block_, counts_;
  Index num_blocks_;
};

}  // namespace volbatch
