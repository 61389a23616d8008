// Virtual padding: values outside the volume, as if the whole volume had been padded once.
// Because a window's input depends only on its global position, blocks and windows at the
// border see the same values whoever computes them, and no seam appears.
//   reflect  — half-sample symmetric, the edge voxel repeated: d c b a | a b c d | d c b a
//              (scipy.ndimage mode "reflect", numpy.pad mode "symmetric"); repeats for pads
//              wider than the volume.
//   edge     — the edge voxel repeated (scipy "nearest", numpy "edge").
//   constant — a fixed value (scipy "constant" with cval).
#pragma once

#include <string>

#include "volbatch/core/array.h"

namespace volbatch {

enum class PaddingMode { kReflect, kEdge, kConstant };

struct Padding {
  PaddingMode mode = PaddingMode::kReflect;
  double value = 0;  // for kConstant
};

// "reflect" | "edge" | "constant"; throws InvalidArgument naming "[tiling] padding".
PaddingMode ParsePaddingMode(const std::string& name);
const char* PaddingModeName(PaddingMode mode);

// The input index that voxel `i` of an axis of length `n` reads; -1 for a constant pad.
Index PaddedSourceIndex(Index i, Index n, PaddingMode mode);

// The part of the volume (spatial shape `volume`) that `want` (spatial) reads once padded:
// the smallest box holding every source index. Empty along an axis only for constant padding.
Box PaddingSource(const Box& want, const Shape& volume, PaddingMode mode);

// Fills `want` from `source`, which holds the voxels of `source_box` (= PaddingSource(want)).
// Arrays may have leading non-spatial axes (channels), copied whole; boxes are spatial.
Array Pad(const Array& source, const Box& source_box, const Box& want, const Shape& volume,
          const Padding& padding);

// Pads in place, without a second array: `a` holds `box` (spatial; leading axes copied whole),
// of which the part `source` (= PaddingSource(box)) is already filled; fills the rest, plane by
// plane from the source's planes. Returns false, touching nothing, when `source` does not lie
// inside `box` (a pad wider than the volume): use Pad then.
bool PadInPlace(Array& a, const Box& box, const Box& source, const Shape& volume,
                const Padding& padding);

}  // namespace volbatch
