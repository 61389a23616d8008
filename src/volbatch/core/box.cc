#include "volbatch/core/box.h"

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {

Index NumElements(const Shape& shape, const char* what) {
  Index n = 1;
  for (Index s : shape) {
    if (s < 0)
      throw InvalidArgument(std::string(what) + ": negative extent in " + ShapeToString(shape));
    n = CheckedMul(n, s, what);
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void CheckRank(size_t rank, const char* what) {
  if (rank < 1 || rank > kMaxRank) {
    throw InvalidArgument(std::string(what) + ": rank " + std::to_string(rank) + " is outside 1.." +
                          std::to_string(kMaxRank));
  }
}

Box::Box(Shape b, Shape s) : begin(std::move(b)), shape(std::move(s)) {
  if (begin.size() != shape.size()) throw Internal("Box: begin and shape differ in rank");
}

Box Box::FromShape(const Shape& shape) { return Box(Shape(shape.size(), 0), shape); }

bool Box::empty() const {
  for (Index s : shape) {
    if (s <= 0) return true;
  }
  return false;
}

bool Box::Contains(const Box& o) const {
  if (o.empty()) return true;
  for (size_t i = 0; i < rank(); ++i) {
    if (o.begin[i] < begin[i] || o.end(i) > end(i)) return false;
  }
  return true;
}

Box Box::Translate(const Shape& offset) const {
  Box b = *this;
  for (size_t i = 0; i < rank(); ++i) b.begin[i] += offset[i];
  return b;
}

Box Box::Relative(const Shape& origin) const {
  Box b = *this;
  for (size_t i = 0; i < rank(); ++i) b.begin[i] -= origin[i];
  return b;
}

Box Box::Grow(const Shape& margin) const {
  Box b = *this;
  for (size_t i = 0; i < rank(); ++i) {
    b.begin[i] -= margin[i];
    b.shape[i] += 2 * margin[i];
  }
  return b;
}

std::string Box::ToString() const {
  std::string s = "[";
  for (size_t i = 0; i < rank(); ++i) {
    if (i) s += ", ";
    s += std::to_string(begin[i]) + ":" + std::to_string(end(i));
  }
  return s + "]";
}

Box Intersect(const Box& a, const Box& b) {
  if (a.rank() != b.rank()) throw Internal("Intersect: boxes differ in rank");
  Box r(Shape(a.rank()), Shape(a.rank()));
  for (size_t i = 0; i < a.rank(); ++i) {
    Index lo = std::max(a.begin[i], b.begin[i]);
    Index hi = std::min(a.end(i), b.end(i));
    r.begin[i] = lo;
    r.shape[i] = std::max<Index>(0, hi - lo);
  }
  return r;
}

std::vector<Shape> GridCells(const Box& region, const Shape& cell) {
  std::vector<Shape> cells;
  ForEachGridCell(region, cell, [&](const Shape& idx) { cells.push_back(idx); });
  return cells;
}

}  // namespace volbatch
