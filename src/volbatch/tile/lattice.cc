#include "volbatch/tile/lattice.h"

#include <algorithm>

#include "volbatch/core/error.h"

namespace volbatch {

Lattice::Lattice(Shape volume, Shape window, Shape overlap, Shape align)
    : volume_(std::move(volume)), window_(std::move(window)), overlap_(std::move(overlap)) {
  const size_t r = volume_.size();
  if (window_.size() != r || overlap_.size() != r || align.size() != r) {
    throw InvalidArgument("window " + ShapeToString(window_) + ", overlap " +
                          ShapeToString(overlap_) + " and volume " + ShapeToString(volume_) +
                          " differ in rank");
  }
  step_.resize(r);
  counts_.resize(r);
  last_start_.resize(r);
  for (size_t i = 0; i < r; ++i) {
    if (window_[i] < 1) {
      throw InvalidArgument("window " + ShapeToString(window_) + " must be positive");
    }
    if (overlap_[i] < 0 || overlap_[i] >= window_[i]) {
      throw InvalidArgument("overlap " + ShapeToString(overlap_) +
                            " must be >= 0 and smaller than the window " + ShapeToString(window_) +
                            " on every axis");
    }
    step_[i] = window_[i] - overlap_[i];
    if (window_[i] % align[i] != 0 || step_[i] % align[i] != 0) {
      throw InvalidArgument("window " + ShapeToString(window_) + " and window - overlap must be " +
                            "multiples of the scale " + ShapeToString(align) + " on every axis");
    }
    if (volume_[i] <= window_[i]) {
      counts_[i] = 1;
      last_start_[i] = 0;
    } else {
      const Index span = volume_[i] - window_[i];
      counts_[i] = (span + step_[i] - 1) / step_[i] + 1;
      // Shifted to end at the edge, kept on the alignment grid (rounded up: the window may
      // reach less than one alignment step past the edge, which padding fills).
      last_start_[i] = (span + align[i] - 1) / align[i] * align[i];
    }
  }
}

Index Lattice::num_windows() const { return NumElements(counts_, "lattice"); }

Index Lattice::Start(size_t axis, Index k) const {
  return k + 1 == counts_[axis] ? last_start_[axis] : k * step_[axis];
}

Box Lattice::WindowBox(const Shape& idx) const {
  Box b(Shape(idx.size()), window_);
  for (size_t i = 0; i < idx.size(); ++i) b.begin[i] = Start(i, idx[i]);
  return b;
}

std::pair<Index, Index> Lattice::Range(size_t axis, Index lo, Index hi) const {
  // Window k touches [lo, hi) iff Start(k) < hi and Start(k) + window > lo; starts increase
  // strictly with k, so both ends are found by arithmetic on the regular starts k * step and
  // one look at the shifted last window.
  const Index n = counts_[axis];
  const Index s = step_[axis], w = window_[axis];
  Index first = lo - w < 0 ? 0 : (lo - w) / s + 1;
  if (first >= n - 1) {
    first = n - 1;
    if (Start(axis, first) + w <= lo) return {0, -1};
  }
  Index last;
  if (Start(axis, n - 1) < hi) {
    last = n - 1;
  } else {
    if (hi <= 0) return {0, -1};
    last = std::min((hi - 1) / s, n - 2);
  }
  return {first, last};
}

std::vector<Shape> Lattice::WindowsTouching(const Box& region) const {
  const size_t r = volume_.size();
  Shape lo(r), hi(r);
  for (size_t i = 0; i < r; ++i) {
    auto [a, b] = Range(i, region.begin[i], region.end(i));
    if (b < a) return {};
    lo[i] = a;
    hi[i] = b;
  }
  std::vector<Shape> out;
  Shape idx = lo;
  while (true) {
    out.push_back(idx);
    size_t i = r;
    while (i > 0) {
      --i;
      if (++idx[i] <= hi[i]) break;
      idx[i] = lo[i];
      if (i == 0) return out;
    }
  }
}

Box Lattice::Hull(const Box& region) const {
  const size_t r = volume_.size();
  Box h{Shape(r), Shape(r)};
  for (size_t i = 0; i < r; ++i) {
    auto [a, b] = Range(i, region.begin[i], region.end(i));
    if (b < a) return Box(region.begin, Shape(r, 0));
    h.begin[i] = Start(i, a);
    h.shape[i] = Start(i, b) + window_[i] - h.begin[i];
  }
  return h;
}

Index Lattice::WindowsComputed(const Shape& block) const {
  // The windows touching a block are a product of per-axis ranges, so the total is the product
  // over axes of the per-axis sums.
  Index total = 1;
  for (size_t i = 0; i < volume_.size(); ++i) {
    if (block[i] < 1) throw InvalidArgument("block " + ShapeToString(block) + " must be positive");
    Index sum = 0;
    for (Index lo = 0; lo < volume_[i]; lo += block[i]) {
      auto [a, b] = Range(i, lo, std::min(volume_[i], lo + block[i]));
      sum += std::max<Index>(0, b - a + 1);
    }
    total *= sum;
  }
  return total;
}

}  // namespace volbatch
