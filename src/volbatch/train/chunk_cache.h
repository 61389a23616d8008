// ChunkCache and SourceReader: training windows are small random crops, so each one touches
// several chunks and uses a fraction of each (a 64x128x128 window over 64^3 chunks decodes 18
// chunks, 4.5x the window). Decoded chunks are kept in one bounded LRU cache shared by the
// loader's threads; windows drawn later from the same chunks only copy. A miss decodes outside
// the lock, and threads asking for a chunk being decoded wait for that one decode.
//
// Memory: the capacity is split between the sources by their share of the data (each keeps
// the same fraction of its chunks, all of them when everything fits), in slots of the source's
// chunk size, one mapping per source advised for transparent huge pages. A cache fills with
// fresh memory, and on the VMs we measure on a fresh 4 KiB page costs ~20 us to fault in
// (~200 MB/s): 512 MiB of heap-allocated chunks took 2-3 s of a loader's first seconds; huge
// pages fault in 2 MiB at a time. Evicted slots are reused, so a full cache faults nothing.
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
#include <vector>

#include "volbatch/core/array.h"
#include "volbatch/store/dataset.h"

namespace volbatch {

// A decoded chunk: C-order elements, owned by whatever the shared_ptr keeps alive (a cache
// slot, or an Array).
struct ChunkData {
  const std::byte* data = nullptr;
  DataType dtype = DataType::kUint8;
  Shape shape;
  template <typename T>
  const T* data_as() const {
    return reinterpret_cast<const T*>(data);
  }
};
using ChunkPtr = std::shared_ptr<const ChunkData>;
ChunkPtr ChunkFromArray(Array a);

class ChunkCache {
 public:
  // capacity_bytes 0: nothing is kept (every Get loads).
  explicit ChunkCache(size_t capacity_bytes);
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // Registers a source whose chunks have `chunk_bytes` bytes (`num_chunks` of them, 0 if not
  // known) and returns its id. Every source is registered before the first Get, which fixes
  // the slots: each source keeps the same fraction of its chunks (all when they fit).
  uint64_t AddSource(size_t chunk_bytes, size_t num_chunks = 0);

  // The chunk (source, index), loaded by `load` on a miss. An exception from `load` reaches
  // every caller waiting for that chunk and nothing is cached. The chunk is copied into a slot
  // (the loaded one is returned, and not kept, when all of the source's slots are held by
  // readers or its size is not the source's).
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
    std::list<Key>::iterator lru = {};  // valid when ready
  };
  struct Slabs;  // the slot memory; outlives the cache while a slot's chunk is in use

  // A slot of `source` holding a copy of `chunk`, or nullptr if every slot is in use.
  ChunkPtr ToSlot(uint64_t source, const ChunkPtr& chunk);
  // Drops the least recently used ready entry of `source` (mu_ held); false if there is none.
  bool EvictOne(uint64_t source);

  const size_t capacity_;
  std::vector<size_t> chunk_bytes_;   // per source
  std::vector<size_t> chunk_counts_;  // per source; 0: unknown
  std::shared_ptr<Slabs> slabs_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> map_;
  std::vector<std::list<Key>> lru_;  // per source: ready entries, most recent first
  Stats stats_;
};

// Reads regions of one dataset, read-cell by read-cell through a ChunkCache (or directly when
// there is none). Outside the array and for absent chunks: the fill value.
//
// The read cell is the chunk (the inner chunk when sharded), except where a part of a chunk
// decodes for less than the whole (blosc in Zarr: only the blosc blocks that hold the part):
// there it is a slab of the chunk's axis-0 slices of at most kCellBytes, about one blosc block
// (numcodecs writes 128 KiB blocks for zstd and lz4 at default levels). A 32^3 window over
// 64^3 uint32 chunks then decodes ~45% of the bytes a whole-chunk cache would, and the cache
// holds only the slabs windows use.
class SourceReader {
 public:
  // Registers the dataset with the cache (if any).
  SourceReader(Dataset dataset, std::shared_ptr<ChunkCache> cache);

  const Dataset& dataset() const { return dataset_; }
  // The read-cell shape and grid (the "chunks" below are these cells).
  const Shape& chunk_shape() const { return cell_; }
  Shape ChunkGrid() const;
  // `region` must lie inside the array; `out` has its shape and the array's dtype.
  void Read(const Box& region, Array& out) const;
  // A whole read-chunk (chunk_shape; beyond the array's edge: fill value), through the cache.
  ChunkPtr Chunk(const Shape& chunk_index) const;
  // The same without the cache (a one-pass scan that should not evict windows' chunks).
  ChunkPtr LoadChunk(const Shape& chunk_index) const;
  // Another cache (a forked child abandons its parent's); registers the dataset with it.
  void set_cache(std::shared_ptr<ChunkCache> cache);

 private:
  static constexpr size_t kCellBytes = size_t{128} << 10;
  static Shape ReadCell(const Dataset& dataset);

  Dataset dataset_;
  Shape cell_;
  std::shared_ptr<ChunkCache> cache_;
  uint64_t id_ = 0;  // in cache_
  ChunkPtr fill_;    // one chunk of fill value, shared by every absent chunk
};

}  // namespace volbatch
