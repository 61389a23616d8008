// Test-time augmentation by flips (`[operator] tta = "flips"`), without LibTorch: the flips a
// job runs, the flip of a window's buffer and the mean of the flipped-back predictions.
//
// A flip reverses a window along some spatial axes. The model's windows are centred (ModelSpec
// refuses others), so reversing an axis maps the input window and its output window onto
// themselves, whatever the per-axis scale: output voxel j covers the input interval of voxel
// O - 1 - j reversed. A window's prediction is the mean over every flip f of
// f(model(f(input))), summed in double in the order of Flips() and rounded once to float, so
// it does not depend on which windows shared a batch.
#pragma once

#include <span>
#include <vector>

#include "volbatch/core/array.h"

namespace volbatch {

// The spatial axes one flip reverses.
using Flip = std::vector<size_t>;

// Every subset of `axes`, 2^n of them, in a fixed order: subset k reverses axes[i] when bit i
// of k is set (k = 0, the window as it is, first).
std::vector<Flip> Flips(const std::vector<size_t>& axes);

// Reverses `data` (channels x spatial, row-major, channels >= 1) along the spatial axes of
// `flip`, in place. A flip is its own inverse.
void FlipInPlace(float* data, Index channels, const Shape& spatial, const Flip& flip);

// The element-wise mean of equally long buffers, summed in double in the order given.
std::vector<float> MeanOf(const std::vector<std::span<const float>>& ys);

}  // namespace volbatch
