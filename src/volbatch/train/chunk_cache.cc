#include "volbatch/train/chunk_cache.h"

#include "volbatch/core/error.h"

namespace volbatch {

ChunkPtr ChunkCache::Get(uint64_t source, uint64_t index, const std::function<ChunkPtr()>& load) {
  if (capacity_ == 0) return load();
  const Key key{source, index};
  std::promise<ChunkPtr> promise;
  {
    std::unique_lock lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      ++stats_.hits;
      Entry& e = it->second;
      if (e.ready) lru_.splice(lru_.begin(), lru_, e.lru);
      std::shared_future<ChunkPtr> f = e.value;
      lock.unlock();
      return f.get();  // waits when another thread is decoding it
    }
    ++stats_.misses;
    map_.emplace(key, Entry{promise.get_future().share()});
  }
  ChunkPtr value;
  try {
    value = load();
    if (!value) throw Internal("ChunkCache: a chunk loader returned nothing");
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
    Entry& e = map_.at(key);
    e.ready = true;
    e.bytes = value->num_bytes();
    lru_.push_front(key);
    e.lru = lru_.begin();
    stats_.bytes += e.bytes;
    while (stats_.bytes > capacity_ && !lru_.empty()) {
      const Key victim = lru_.back();
      lru_.pop_back();
      auto v = map_.find(victim);
      stats_.bytes -= v->second.bytes;
      map_.erase(v);
      ++stats_.evictions;
    }
  }
  promise.set_value(value);
  return value;
}

ChunkCache::Stats ChunkCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = lru_.size();
  return s;
}

SourceReader::SourceReader(Dataset dataset, uint64_t id, std::shared_ptr<ChunkCache> cache)
    : dataset_(std::move(dataset)), id_(id), cache_(std::move(cache)) {
  const ArrayLayout& l = dataset_.layout();
  NumElements(l.chunks, "chunks");
  fill_ = std::make_shared<const Array>(Array::Filled(l.dtype, l.chunks, l.fill_value));
}

Shape SourceReader::ChunkGrid() const {
  const ArrayLayout& l = dataset_.layout();
  Shape g(l.shape.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = (l.shape[i] + l.chunks[i] - 1) / l.chunks[i];
  return g;
}

ChunkPtr SourceReader::LoadChunk(const Shape& idx) const {
  const ArrayLayout& l = dataset_.layout();
  const size_t rank = l.shape.size();
  Shape unit(rank), local_begin(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Index origin = idx[i] * l.chunks[i];
    unit[i] = origin / l.write_chunks[i];
    local_begin[i] = origin - unit[i] * l.write_chunks[i];
  }
  std::optional<Array> a =
      dataset_.driver().ReadUnitRegion(dataset_.kvstore(), unit, Box(local_begin, l.chunks));
  if (!a) return fill_;
  if (a->shape() != l.chunks || a->dtype() != l.dtype) {
    throw Internal(dataset_.path() + ": chunk " + ShapeToString(idx) + " decoded to shape " +
                   ShapeToString(a->shape()) + ", expected " + ShapeToString(l.chunks));
  }
  return std::make_shared<const Array>(std::move(*a));
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
  const Shape& cell = cached ? l.chunks : l.write_chunks;
  ForEachGridCell(region, cell, [&](const Shape& idx) {
    Shape origin(rank);
    for (size_t i = 0; i < rank; ++i) origin[i] = idx[i] * cell[i];
    const Box inter = Intersect(Box(origin, cell), region);
    const Shape dst = inter.Relative(region.begin).begin;
    if (cached) {
      const ChunkPtr c = Chunk(idx);
      CopyRegion(*c, inter.Relative(origin).begin, out, dst, inter.shape);
    } else if (!dataset_.driver().ReadUnitInto(dataset_.kvstore(), idx, inter.Relative(origin),
                                               out, dst)) {
      const Array fill = Array::Filled(l.dtype, inter.shape, l.fill_value);  // an absent unit
      CopyRegion(fill, Shape(rank, 0), out, dst, inter.shape);
    }
  });
}

}  // namespace volbatch
