#include "volbatch/train/class_index.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {

namespace {

// Calls f(offset, length, row_start) for every innermost row of `box` inside a C-order array of
// `shape`: offset is the element offset of the row's first element, row_start its coordinates.
template <typename F>
void ForEachRow(const Box& box, const Shape& shape, F&& f) {
  const size_t rank = shape.size();
  if (box.empty()) return;
  Shape idx = box.begin;
  while (true) {
    Index offset = 0;
    for (size_t i = 0; i < rank; ++i) offset = offset * shape[i] + idx[i];
    f(offset, box.shape[rank - 1], static_cast<const Shape&>(idx));
    size_t i = rank - 1;
    while (true) {
      if (i == 0) return;
      --i;
      if (++idx[i] < box.end(i)) break;
      idx[i] = box.begin[i];
    }
  }
}

template <typename T>
bool Representable(int64_t v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v == 0 || v == 1;
  } else if constexpr (std::is_unsigned_v<T>) {
    return v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max();
  } else {
    return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
  }
}

template <typename T>
T As(int64_t v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else {
    return static_cast<T>(v);
  }
}

void CheckIntegerLabels(const Dataset& d) {
  if (IsFloat(d.dtype())) {
    throw InvalidArgument(d.path() + ": class balancing needs integer labels, the array is " +
                          std::string(DataTypeName(d.dtype())));
  }
}

Shape Unravel(uint64_t linear, const Shape& grid) {
  Shape idx(grid.size());
  for (size_t i = grid.size(); i-- > 0;) {
    idx[i] = static_cast<Index>(linear % static_cast<uint64_t>(grid[i]));
    linear /= static_cast<uint64_t>(grid[i]);
  }
  return idx;
}

}  // namespace

ClassIndex ClassIndex::Build(const SourceReader& labels, std::vector<int64_t> classes,
                             const Box& region, int threads) {
  const Dataset& d = labels.dataset();
  CheckIntegerLabels(d);
  if (classes.empty()) throw InvalidArgument("classes: at least one class is needed");
  for (size_t a = 0; a < classes.size(); ++a) {
    for (size_t b = a + 1; b < classes.size(); ++b) {
      if (classes[a] == classes[b]) {
        throw InvalidArgument("classes: " + std::to_string(classes[a]) + " is listed twice");
      }
    }
  }
  VisitDataType(d.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) {
      for (int64_t c : classes) {
        if (!Representable<T>(c)) {
          throw InvalidArgument("classes: " + std::to_string(c) + " cannot occur in " + d.path() +
                                " (" + std::string(DataTypeName(d.dtype())) + ")");
        }
      }
    }
  });
  if (region.rank() != d.rank() || !Box::FromShape(d.shape()).Contains(region)) {
    throw InvalidArgument(d.path() + ": class index region " + region.ToString() +
                          " is not inside the array " + ShapeToString(d.shape()));
  }
  ClassIndex index;
  index.classes_ = std::move(classes);
  index.region_ = region;
  index.chunk_shape_ = labels.chunk_shape();
  index.chunk_grid_ = labels.ChunkGrid();
  const size_t rank = region.rank(), k = index.classes_.size();
  index.per_class_.resize(k);
  if (region.empty()) return index;

  // The chunks overlapping the region, enumerated by a local linear index.
  Shape lo(rank), n(rank);
  for (size_t i = 0; i < rank; ++i) {
    lo[i] = region.begin[i] / index.chunk_shape_[i];
    n[i] = (region.end(i) - 1) / index.chunk_shape_[i] - lo[i] + 1;
  }
  const Index num_chunks = NumElements(n, "chunks in the class index region");
  CheckedMul(num_chunks, static_cast<Index>(k * sizeof(uint64_t)), "class index");
  std::vector<uint64_t> counts(static_cast<size_t>(num_chunks) * k, 0);
  std::atomic<Index> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    try {
      for (Index j = next++; j < num_chunks; j = next++) {
        Shape idx = Unravel(static_cast<uint64_t>(j), n);
        Shape origin(rank);
        for (size_t i = 0; i < rank; ++i) {
          idx[i] += lo[i];
          origin[i] = idx[i] * index.chunk_shape_[i];
        }
        const Box inter = Intersect(Box(origin, index.chunk_shape_), region);
        const ChunkPtr chunk = labels.LoadChunk(idx);
        uint64_t* out = &counts[static_cast<size_t>(j) * k];
        VisitDataType(d.dtype(), [&](auto t) {
          using T = decltype(t);
          if constexpr (std::is_integral_v<T>) {
            std::vector<T> values(k);
            for (size_t c = 0; c < k; ++c) values[c] = As<T>(index.classes_[c]);
            const T* p = chunk->data_as<T>();
            ForEachRow(inter.Relative(origin), index.chunk_shape_,
                       [&](Index offset, Index len, const Shape&) {
                         for (Index x = 0; x < len; ++x) {
                           const T v = p[offset + x];
                           for (size_t c = 0; c < k; ++c) {
                             if (v == values[c]) {
                               ++out[c];
                               break;
                             }
                           }
                         }
                       });
          }
        });
      }
    } catch (...) {
      std::lock_guard lock(error_mu);
      if (!error) error = std::current_exception();
      next = num_chunks;
    }
  };
  const int nt = std::max(1, std::min<int>(threads, static_cast<int>(num_chunks)));
  std::vector<std::thread> pool;
  for (int t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  for (Index j = 0; j < num_chunks; ++j) {
    Shape idx = Unravel(static_cast<uint64_t>(j), n);
    uint64_t linear = 0;
    for (size_t i = 0; i < rank; ++i) {
      linear = linear * static_cast<uint64_t>(index.chunk_grid_[i]) +
               static_cast<uint64_t>(idx[i] + lo[i]);
    }
    for (size_t c = 0; c < k; ++c) {
      const uint64_t m = counts[static_cast<size_t>(j) * k + c];
      if (m == 0) continue;
      PerClass& pc = index.per_class_[c];
      pc.chunks.push_back(linear);
      pc.cumulative.push_back((pc.cumulative.empty() ? 0 : pc.cumulative.back()) + m);
    }
  }
  return index;
}

uint64_t ClassIndex::Count(size_t c) const {
  const PerClass& pc = per_class_.at(c);
  return pc.cumulative.empty() ? 0 : pc.cumulative.back();
}

Shape ClassIndex::DrawVoxel(const SourceReader& labels, size_t c, CounterRng& rng) const {
  const uint64_t total = Count(c);
  if (total == 0) {
    throw FailedPrecondition("class " + std::to_string(classes_.at(c)) + " does not occur in " +
                             labels.dataset().path() + " within " + region_.ToString());
  }
  const PerClass& pc = per_class_[c];
  const uint64_t r = rng.Uniform(total);
  const size_t j = static_cast<size_t>(
      std::upper_bound(pc.cumulative.begin(), pc.cumulative.end(), r) - pc.cumulative.begin());
  uint64_t rank_in_chunk = r - (j ? pc.cumulative[j - 1] : 0);
  const Shape idx = Unravel(pc.chunks[j], chunk_grid_);
  const size_t rank = idx.size();
  Shape origin(rank);
  for (size_t i = 0; i < rank; ++i) origin[i] = idx[i] * chunk_shape_[i];
  const Box inter = Intersect(Box(origin, chunk_shape_), region_);
  const ChunkPtr chunk = labels.Chunk(idx);
  std::optional<Shape> found;
  VisitDataType(labels.dataset().dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) {
      const T value = As<T>(classes_[c]);
      const T* p = chunk->data_as<T>();
      ForEachRow(inter.Relative(origin), chunk_shape_,
                 [&](Index offset, Index len, const Shape& row) {
                   if (found) return;
                   for (Index x = 0; x < len; ++x) {
                     if (p[offset + x] == value && rank_in_chunk-- == 0) {
                       Shape v = row;
                       v[rank - 1] += x;
                       for (size_t i = 0; i < rank; ++i) v[i] += origin[i];
                       found = v;
                       return;
                     }
                   }
                 });
    }
  });
  if (!found) {
    throw FailedPrecondition(labels.dataset().path() + ": chunk " + ShapeToString(idx) +
                             " holds fewer voxels of class " + std::to_string(classes_[c]) +
                             " than when the class index was built (the labels changed?)");
  }
  return *found;
}

void ClassIndex::CheckMatches(const SourceReader& labels, const std::vector<int64_t>& classes,
                              const Box& region) const {
  const std::string what = "class_index (built for another ";
  if (classes != classes_) throw InvalidArgument(what + "list of classes)");
  if (region != region_) {
    throw InvalidArgument(what + "region: " + region_.ToString() + ", needed " + region.ToString() +
                          ")");
  }
  if (labels.chunk_shape() != chunk_shape_ || labels.ChunkGrid() != chunk_grid_) {
    throw InvalidArgument(what + "chunk layout than " + labels.dataset().path() + ")");
  }
}

namespace {

constexpr char kMagic[8] = {'V', 'B', 'C', 'L', 'I', 'D', 'X', '1'};

void Put(Bytes& b, uint64_t v) {
  const size_t at = b.size();
  b.resize(at + 8);
  std::memcpy(b.data() + at, &v, 8);
}

void PutShape(Bytes& b, const Shape& s) {
  Put(b, s.size());
  for (Index v : s) Put(b, static_cast<uint64_t>(v));
}

struct Reader {
  std::span<const std::byte> b;
  size_t at = 0;
  uint64_t Get() {
    if (b.size() - at < 8) throw DataLoss("class_index: truncated serialized index");
    uint64_t v;
    std::memcpy(&v, b.data() + at, 8);
    at += 8;
    return v;
  }
  // A count of items of `item_bytes` each that must fit in what is left.
  size_t Count(size_t item_bytes) {
    const uint64_t n = Get();
    if (n > (b.size() - at) / item_bytes) {
      throw DataLoss("class_index: serialized index declares more items than it holds");
    }
    return static_cast<size_t>(n);
  }
  Shape GetShape() {
    const size_t n = Count(8);
    if (n > kMaxRank) throw DataLoss("class_index: rank out of range");
    Shape s(n);
    for (auto& v : s) v = static_cast<Index>(Get());
    return s;
  }
};

}  // namespace

Bytes ClassIndex::Serialize() const {
  Bytes b;
  b.resize(sizeof(kMagic));
  std::memcpy(b.data(), kMagic, sizeof(kMagic));
  Put(b, classes_.size());
  for (int64_t c : classes_) Put(b, static_cast<uint64_t>(c));
  PutShape(b, region_.begin);
  PutShape(b, region_.shape);
  PutShape(b, chunk_shape_);
  PutShape(b, chunk_grid_);
  for (const PerClass& pc : per_class_) {
    Put(b, pc.chunks.size());
    for (size_t i = 0; i < pc.chunks.size(); ++i) {
      Put(b, pc.chunks[i]);
      Put(b, pc.cumulative[i]);
    }
  }
  return b;
}

ClassIndex ClassIndex::Deserialize(std::span<const std::byte> bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    throw DataLoss("class_index: not a serialized class index");
  }
  Reader r{bytes, sizeof(kMagic)};
  ClassIndex index;
  index.classes_.resize(r.Count(8));
  for (auto& c : index.classes_) c = static_cast<int64_t>(r.Get());
  index.region_.begin = r.GetShape();
  index.region_.shape = r.GetShape();
  index.chunk_shape_ = r.GetShape();
  index.chunk_grid_ = r.GetShape();
  const size_t rank = index.chunk_grid_.size();
  if (index.region_.begin.size() != rank || index.region_.shape.size() != rank ||
      index.chunk_shape_.size() != rank) {
    throw DataLoss("class_index: inconsistent ranks");
  }
  uint64_t num_chunks = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (index.chunk_grid_[i] < 0 || index.chunk_shape_[i] < 1) {
      throw DataLoss("class_index: bad chunk grid");
    }
    num_chunks = static_cast<uint64_t>(
        CheckedMul(static_cast<Index>(num_chunks), index.chunk_grid_[i], "class_index"));
  }
  index.per_class_.resize(index.classes_.size());
  for (PerClass& pc : index.per_class_) {
    const size_t n = r.Count(16);
    pc.chunks.resize(n);
    pc.cumulative.resize(n);
    for (size_t i = 0; i < n; ++i) {
      pc.chunks[i] = r.Get();
      pc.cumulative[i] = r.Get();
      if (pc.chunks[i] >= num_chunks ||
          (i && (pc.cumulative[i] <= pc.cumulative[i - 1] || pc.chunks[i] <= pc.chunks[i - 1]))) {
        throw DataLoss("class_index: inconsistent chunk counts");
      }
    }
  }
  if (r.at != bytes.size()) throw DataLoss("class_index: trailing bytes");
  return index;
}

}  // namespace volbatch
