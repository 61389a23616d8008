#include "volbatch/train/chunk_cache.h"

#include <sys/mman.h>

#include <cstring>

#include "volbatch/core/error.h"

namespace volbatch {

ChunkPtr ChunkFromArray(Array a) {
  auto owner = std::make_shared<std::pair<Array, ChunkData>>();
  owner->first = std::move(a);
  owner->second = ChunkData{owner->first.data(), owner->first.dtype(), owner->first.shape()};
  return ChunkPtr(owner, &owner->second);
}

struct ChunkCache::Slabs {
  struct Slab {
    std::byte* base = nullptr;
    size_t mapped = 0;
    size_t slot_bytes = 0;
    size_t slots = 0;
    std::vector<size_t> free;
    size_t next_unused = 0;
  };
  std::mutex mu;
  std::vector<Slab> slabs;

  // Each source gets the same share of its chunks: all of them when the capacity holds every
  // source whole, else capacity / (all sources' bytes) of each (uniform windows then hit each
  // source equally often). With a count unknown, equally many slots per source.
  Slabs(const std::vector<size_t>& chunk_bytes, const std::vector<size_t>& counts,
        size_t capacity) {
    bool known = true;
    long double total = 0;
    size_t set = 0;
    for (size_t i = 0; i < chunk_bytes.size(); ++i) {
      known = known && counts[i] > 0;
      total += static_cast<long double>(counts[i]) * chunk_bytes[i];
      set += chunk_bytes[i];
    }
    for (size_t i = 0; i < chunk_bytes.size(); ++i) {
      const size_t b = chunk_bytes[i];
      size_t slots = set ? capacity / set : 0;
      if (known && total > 0) {
        slots = total <= capacity
                    ? counts[i]
                    : static_cast<size_t>(capacity * static_cast<long double>(counts[i]) / total);
      }
      Slab s;
      s.slot_bytes = b;
      constexpr size_t kHuge = size_t{2} << 20;
      if (slots > 0 && b > 0) {
        const size_t bytes = (slots * b + kHuge - 1) / kHuge * kHuge;
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
          ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; without THP, 4 KiB pages
          s.base = static_cast<std::byte*>(p);
          s.mapped = bytes;
          s.slots = slots;
        }
      }
      slabs.push_back(std::move(s));
    }
  }
  ~Slabs() {
    for (Slab& s : slabs) {
      if (s.base) ::munmap(s.base, s.mapped);
    }
  }
};

ChunkCache::ChunkCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

ChunkCache::~ChunkCache() = default;

uint64_t ChunkCache::AddSource(size_t chunk_bytes, size_t num_chunks) {
  std::lock_guard lock(mu_);
  if (slabs_) throw Internal("ChunkCache::AddSource after the first Get");
  chunk_bytes_.push_back(chunk_bytes);
  chunk_counts_.push_back(num_chunks);
  lru_.emplace_back();
  return chunk_bytes_.size() - 1;
}

bool ChunkCache::EvictOne(uint64_t source) {
  std::list<Key>& lru = lru_[source];
  if (lru.empty()) return false;
  const Key victim = lru.back();
  lru.pop_back();
  auto v = map_.find(victim);
  stats_.bytes -= v->second.bytes;
  map_.erase(v);  // the slot returns when no reader holds the chunk any more
  ++stats_.evictions;
  return true;
}

ChunkPtr ChunkCache::ToSlot(uint64_t source, const ChunkPtr& chunk) {
  Slabs::Slab& slab = slabs_->slabs[source];
  const size_t bytes = static_cast<size_t>(NumElements(chunk->shape)) * ByteSize(chunk->dtype);
  if (slab.slots == 0 || bytes != slab.slot_bytes) return nullptr;
  size_t slot = 0;
  for (size_t attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(slabs_->mu);
      if (!slab.free.empty()) {
        slot = slab.free.back();
        slab.free.pop_back();
        break;
      }
      if (slab.next_unused < slab.slots) {
        slot = slab.next_unused++;
        break;
      }
    }
    std::lock_guard lock(mu_);
    if (attempt > slab.slots || !EvictOne(source)) return nullptr;  // every slot in use
  }
  std::byte* dst = slab.base + slot * slab.slot_bytes;
  std::memcpy(dst, chunk->data, bytes);
  std::shared_ptr<Slabs> slabs = slabs_;
  return ChunkPtr(new ChunkData{dst, chunk->dtype, chunk->shape},
                  [slabs, source, slot](const ChunkData* p) {
                    delete p;
                    std::lock_guard lock(slabs->mu);
                    slabs->slabs[source].free.push_back(slot);
                  });
}

ChunkPtr ChunkCache::Get(uint64_t source, uint64_t index, const std::function<ChunkPtr()>& load) {
  if (capacity_ == 0) return load();
  const Key key{source, index};
  std::promise<ChunkPtr> promise;
  {
    std::unique_lock lock(mu_);
    if (source >= chunk_bytes_.size()) throw Internal("ChunkCache::Get: unknown source");
    if (!slabs_) slabs_ = std::make_shared<Slabs>(chunk_bytes_, chunk_counts_, capacity_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      ++stats_.hits;
      Entry& e = it->second;
      if (e.ready) lru_[source].splice(lru_[source].begin(), lru_[source], e.lru);
      std::shared_future<ChunkPtr> f = e.value;
      lock.unlock();
      return f.get();  // waits when another thread is decoding it
    }
    ++stats_.misses;
    Entry e;
    e.value = promise.get_future().share();
    map_.emplace(key, std::move(e));
  }
  ChunkPtr loaded, stored;
  try {
    loaded = load();
    if (!loaded) throw Internal("ChunkCache: a chunk loader returned nothing");
    stored = ToSlot(source, loaded);
  } catch (...) {
    {
      std::lock_guard lock(mu_);
      map_.erase(key);
    }
    promise.set_exception(std::current_exception());
    throw;
  }
  {
    std::lock_guard lock(mu_);
    if (stored) {
      Entry& e = map_.at(key);
      e.ready = true;
      e.bytes = slabs_->slabs[source].slot_bytes;
      lru_[source].push_front(key);
      e.lru = lru_[source].begin();
      stats_.bytes += e.bytes;
    } else {
      map_.erase(key);  // not kept (no free slot, or not a chunk of this source's size)
    }
  }
  const ChunkPtr& value = stored ? stored : loaded;
  promise.set_value(value);
  return value;
}

ChunkCache::Stats ChunkCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  for (const auto& l : lru_) s.entries += l.size();
  return s;
}

Shape SourceReader::ReadCell(const Dataset& dataset) {
  const ArrayLayout& l = dataset.layout();
  Shape cell = l.chunks;
  if (cell.empty() || cell != l.write_chunks || !dataset.driver().DecodesUnitRegions()) return cell;
  const size_t slice =
      static_cast<size_t>(NumElements(cell, "chunks") / cell[0]) * ByteSize(l.dtype);
  Index slab = cell[0];
  while (slab > 1 && (cell[0] % slab != 0 || static_cast<size_t>(slab) * slice > kCellBytes)) {
    --slab;
  }
  cell[0] = slab;
  return cell;
}

SourceReader::SourceReader(Dataset dataset, std::shared_ptr<ChunkCache> cache)
    : dataset_(std::move(dataset)), cell_(ReadCell(dataset_)) {
  const ArrayLayout& l = dataset_.layout();
  NumElements(l.chunks, "chunks");
  fill_ = ChunkFromArray(Array::Filled(l.dtype, cell_, l.fill_value));
  set_cache(std::move(cache));
}

void SourceReader::set_cache(std::shared_ptr<ChunkCache> cache) {
  cache_ = std::move(cache);
  if (cache_) {
    const ArrayLayout& l = dataset_.layout();
    id_ = cache_->AddSource(static_cast<size_t>(NumElements(cell_)) * ByteSize(l.dtype),
                            static_cast<size_t>(NumElements(ChunkGrid())));
  }
}

Shape SourceReader::ChunkGrid() const {
  const ArrayLayout& l = dataset_.layout();
  Shape g(l.shape.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = (l.shape[i] + cell_[i] - 1) / cell_[i];
  return g;
}

ChunkPtr SourceReader::LoadChunk(const Shape& idx) const {
  const ArrayLayout& l = dataset_.layout();
  const size_t rank = l.shape.size();
  Shape unit(rank), local_begin(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Index origin = idx[i] * cell_[i];
    unit[i] = origin / l.write_chunks[i];
    local_begin[i] = origin - unit[i] * l.write_chunks[i];
  }
  std::optional<Array> a =
      dataset_.driver().ReadUnitRegion(dataset_.kvstore(), unit, Box(local_begin, cell_));
  if (!a) return fill_;
  if (a->shape() != cell_ || a->dtype() != l.dtype) {
    throw Internal(dataset_.path() + ": chunk " + ShapeToString(idx) + " decoded to shape " +
                   ShapeToString(a->shape()) + ", expected " + ShapeToString(cell_));
  }
  return ChunkFromArray(std::move(*a));
}

ChunkPtr SourceReader::Chunk(const Shape& idx) const {
  if (!cache_ || cache_->capacity() == 0) return LoadChunk(idx);
  const Shape grid = ChunkGrid();
  uint64_t linear = 0;
  for (size_t i = 0; i < idx.size(); ++i) linear = linear * grid[i] + idx[i];
  return cache_->Get(id_, linear, [&] { return LoadChunk(idx); });
}

void SourceReader::Read(const Box& region, Array& out) const {
  const ArrayLayout& l = dataset_.layout();
  const size_t rank = l.shape.size();
  if (region.rank() != rank || !Box::FromShape(l.shape).Contains(region) ||
      out.shape() != region.shape || out.dtype() != l.dtype) {
    throw Internal(dataset_.path() + ": SourceReader::Read of " + region.ToString() +
                   " into an array that does not hold it");
  }
  if (region.empty()) return;
  const bool cached = cache_ && cache_->capacity() > 0;
  const Shape& cell = cached ? cell_ : l.write_chunks;
  ForEachGridCell(region, cell, [&](const Shape& idx) {
    Shape origin(rank);
    for (size_t i = 0; i < rank; ++i) origin[i] = idx[i] * cell[i];
    const Box inter = Intersect(Box(origin, cell), region);
    const Shape dst = inter.Relative(region.begin).begin;
    if (cached) {
      const ChunkPtr c = Chunk(idx);
      CopyRegion(c->data, c->shape, inter.Relative(origin).begin, out.data(), out.shape(), dst,
                 inter.shape, out.element_size());
    } else if (!dataset_.driver().ReadUnitInto(dataset_.kvstore(), idx, inter.Relative(origin), out,
                                               dst)) {
      const Array fill = Array::Filled(l.dtype, inter.shape, l.fill_value);  // an absent unit
      CopyRegion(fill, Shape(rank, 0), out, dst, inter.shape);
    }
  });
}

}  // namespace volbatch
