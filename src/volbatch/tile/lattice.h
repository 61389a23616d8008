// Lattice: the one global grid of model windows over the whole output volume. Windows start at
// multiples of `step` (window - overlap); along an axis where the windows do not end exactly at
// the volume's edge, the last window is shifted back to end there (or, on a volume smaller than
// a window, the single window starts at 0 and reaches past the edge). Because every block uses
// this same lattice, a voxel is computed by the same windows, blended in the same order, however
// the volume is cut into blocks — the output is bit-identical for any block size or order.
#pragma once

#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

class Lattice {
 public:
  // `align`: window starts are multiples of it (an up-scale needs starts that map to whole
  // input voxels). Throws InvalidArgument if overlap >= window or sizes are not aligned.
  Lattice(Shape volume, Shape window, Shape overlap, Shape align);
  Lattice(Shape volume, Shape window, Shape overlap)
      : Lattice(volume, window, overlap, Shape(volume.size(), 1)) {}

  const Shape& volume() const { return volume_; }
  const Shape& window() const { return window_; }
  const Shape& overlap() const { return overlap_; }
  // Windows along each axis.
  const Shape& counts() const { return counts_; }
  Index num_windows() const;
  // Start of window `k` along `axis`.
  Index Start(size_t axis, Index k) const;
  // The box of the window with per-axis index `idx`.
  Box WindowBox(const Shape& idx) const;
  // Per-axis indices of every window that intersects `region`, in lattice (C) order.
  std::vector<Shape> WindowsTouching(const Box& region) const;
  // The union box of those windows.
  Box Hull(const Box& region) const;
  // Windows run when the volume is cut into blocks of `block` (the grid from the origin, the
  // last block clipped): each block runs every window touching it, so a window that straddles
  // blocks runs once per block it touches. num_windows() when blocks follow the lattice; up
  // to (1 + window / block)^rank times that with overlapping windows. Exact, O(blocks per
  // axis).
  Index WindowsComputed(const Shape& block) const;

 private:
  // [first, last] window indices along `axis` touching [lo, hi).
  std::pair<Index, Index> Range(size_t axis, Index lo, Index hi) const;
  Shape volume_, window_, overlap_, step_, counts_, last_start_;
};

}  // namespace volbatch
