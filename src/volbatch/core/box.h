// Shapes and boxes: N-D integer regions in C order (slowest axis first), rank 1 to 32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace volbatch {

using Index = int64_t;
using Shape = std::vector<Index>;

inline constexpr size_t kMaxRank = 32;

// Product of the extents; throws InvalidArgument naming `what` on overflow or a negative extent.
Index NumElements(const Shape& shape, const char* what = "shape");
std::string ShapeToString(const Shape& shape);  // "[2, 3, 4]"
// `a`'s axes then `b`'s.
inline Shape Concat(const Shape& a, const Shape& b) {
  Shape s = a;
  s.insert(s.end(), b.begin(), b.end());
  return s;
}
// Throws InvalidArgument naming `what` unless 1 <= rank <= 32.
void CheckRank(size_t rank, const char* what);

// An axis-aligned region: [begin, begin + shape).
struct Box {
  Shape begin;
  Shape shape;

  Box() = default;
  Box(Shape b, Shape s);
  static Box FromShape(const Shape& shape);  // [0, shape)

  size_t rank() const { return shape.size(); }
  Index end(size_t axis) const { return begin[axis] + shape[axis]; }
  bool empty() const;
  Index num_elements() const { return NumElements(shape, "box"); }
  bool Contains(const Box& other) const;
  Box Translate(const Shape& offset) const;  // begin + offset
  Box Relative(const Shape& origin) const;   // begin - origin
  Box Grow(const Shape& margin) const;       // begin - margin, shape + 2 margin
  std::string ToString() const;              // "[0:10, 5:20]"

  friend bool operator==(const Box&, const Box&) = default;
};

// The overlap of two boxes of equal rank (possibly empty).
Box Intersect(const Box& a, const Box& b);

// Calls f(grid_index) for every cell of a regular grid of `cell` sized cells that overlaps
// `region` (cells cover [0, inf) along every axis), in C order.
template <typename F>
void ForEachGridCell(const Box& region, const Shape& cell, F&& f) {
  const size_t rank = region.rank();
  if (region.empty()) return;
  Shape lo(rank), hi(rank), idx(rank);
  for (size_t i = 0; i < rank; ++i) {
    lo[i] = region.begin[i] / cell[i];
    hi[i] = (region.end(i) - 1) / cell[i];
    idx[i] = lo[i];
  }
  while (true) {
    f(static_cast<const Shape&>(idx));
    size_t i = rank;
    while (i > 0) {
      --i;
      if (++idx[i] <= hi[i]) break;
      idx[i] = lo[i];
      if (i == 0) return;
    }
    if (rank == 0) return;
  }
}

// Cell boxes of a grid over `region`, in C order.
std::vector<Shape> GridCells(const Box& region, const Shape& cell);

}  // namespace volbatch
