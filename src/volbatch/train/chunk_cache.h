// ChunkCache and SourceReader: training windows are small random crops, so each one touches
// several chunks and uses a fraction of each (a 64x128x128 window over 64^3 chunks decodes 18
// chunks, 4.5x the window). Decoded chunks are kept in one bounded LRU cache shared by the
// loader's threads; windows drawn later from the same chunks only copy. A miss decodes outside
// the lock, and threads asking for a chunk being decoded wait for that one decode.
//
// Reads here never use oneTBB (Dataset::Read does): the loader's parallelism is its own
// threads, one window each, and a DataLoader may fork the process after a sampler was built.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "volbatch/core/array.h"
#include "volbatch/store/dataset.h"

namespace volbatch {

using ChunkPtr = std::shared_ptr<const Array>;

class ChunkCache {
 public:
  // capacity_bytes 0: nothing is kept (every Get loads).
  explicit ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The chunk (source, index), loaded by `load` on a miss. An exception from `load` reaches
  // every caller waiting for that chunk and nothing is cached.
  ChunkPtr Get(uint64_t source, uint64_t index, const std::function<ChunkPtr()>& load);

  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0;
    size_t bytes = 0, entries = 0;
  };
  Stats stats() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Key {
    uint64_t source, index;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.index * 0x9E3779B97F4A7C15ull ^ k.source; }
  };
  struct Entry {
    std::shared_future<ChunkPtr> value;
    size_t bytes = 0;
    bool ready = false;
    std::list<Key>::iterator lru;  // valid when ready
  };

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> map_;
  std::list<Key> lru_;  // ready entries, most recent first
  Stats stats_;
};

// Reads regions of one dataset, chunk by chunk through a ChunkCache (or directly when there is
// none). Outside the array and for absent chunks: the fill value.
class SourceReader {
 public:
  SourceReader(Dataset dataset, uint64_t id, std::shared_ptr<ChunkCache> cache);

  const Dataset& dataset() const { return dataset_; }
  // The read-chunk grid (chunks, or inner chunks when sharded).
  const Shape& chunk_shape() const { return dataset_.layout().chunks; }
  Shape ChunkGrid() const;
  // `region` must lie inside the array; `out` has its shape and the array's dtype.
  void Read(const Box& region, Array& out) const;
  // A whole read-chunk (chunk_shape; beyond the array's edge: fill value), through the cache.
  ChunkPtr Chunk(const Shape& chunk_index) const;
  // The same without the cache (a one-pass scan that should not evict windows' chunks).
  ChunkPtr LoadChunk(const Shape& chunk_index) const;

 private:
  Dataset dataset_;
  uint64_t id_;
  std::shared_ptr<ChunkCache> cache_;
  ChunkPtr fill_;  // one chunk of fill value, shared by every absent chunk
};

}  // namespace volbatch
