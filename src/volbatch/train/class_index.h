// ClassIndex: how many voxels of each class every chunk of a label volume holds, counted once,
// so that class balancing draws "a voxel of class c, uniformly among all of them" exactly and
// without rejection: a chunk with probability proportional to its count, then the k-th voxel of
// that class inside it (one scan of one cached chunk). The price is one pass over the label
// volume when the index is built (threads, no cache); it can be serialized and reused (a
// DataLoader's workers share the one built in the main process).
#pragma once

#include <cstdint>
#include <vector>

#include "volbatch/core/box.h"
#include "volbatch/core/bytes.h"
#include "volbatch/tile/window_sampler.h"
#include "volbatch/train/chunk_cache.h"

namespace volbatch {

class ClassIndex {
 public:
  ClassIndex() = default;
  // Counts the label values `classes` in `region` (label coordinates) of an integer or bool
  // label array without a channel axis. Throws InvalidArgument naming the class if one cannot
  // be represented in the array's dtype, or if classes repeat.
  static ClassIndex Build(const SourceReader& labels, std::vector<int64_t> classes,
                          const Box& region, int threads);

  const std::vector<int64_t>& classes() const { return classes_; }
  const Box& region() const { return region_; }
  const Shape& chunk_shape() const { return chunk_shape_; }
  // Voxels of class number c (an index into classes()) inside region().
  uint64_t Count(size_t c) const;
  // Chunks holding at least one voxel of class c.
  size_t NumChunks(size_t c) const { return per_class_[c].chunks.size(); }

  // A voxel of class number c, uniform among all of them in region() (label coordinates).
  // Throws FailedPrecondition if there is none.
  Shape DrawVoxel(const SourceReader& labels, size_t c, CounterRng& rng) const;

  // Throws InvalidArgument naming what differs unless this index describes `labels` over
  // `region` with these classes (an index built elsewhere and passed in).
  void CheckMatches(const SourceReader& labels, const std::vector<int64_t>& classes,
                    const Box& region) const;

  Bytes Serialize() const;
  // Throws DataLoss on a truncated or inconsistent buffer.
  static ClassIndex Deserialize(std::span<const std::byte> bytes);

 private:
  struct PerClass {
    std::vector<uint64_t> chunks;      // linear chunk indices (C order over the chunk grid)
    std::vector<uint64_t> cumulative;  // voxels of the class in chunks[0..i], inclusive
  };
  std::vector<int64_t> classes_;
  Box region_;
  Shape chunk_shape_;
  Shape chunk_grid_;  // of the whole array
  std::vector<PerClass> per_class_;
};

}  // namespace volbatch
