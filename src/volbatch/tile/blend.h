// Blend weights: how much each window's result counts at each of its voxels when windows
// overlap. The engine accumulates sum(w * y) and sum(w) over the windows covering a voxel, in
// lattice order, and divides. Weights are positive everywhere, so a voxel covered by any window
// has a defined value; they fall towards the window's faces, where a model sees the least
// context.
#pragma once

#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

enum class BlendKind { kConstant, kLinear, kGaussian, kBump };

// "constant" | "linear" | "gaussian" | "bump"; throws InvalidArgument naming "[tiling] blend".
BlendKind ParseBlendKind(const std::string& name);
const char* BlendKindName(BlendKind kind);

// C-order float weights over a window of `window` voxels. `overlap` sets the width of the
// linear ramp (overlap + 1 steps, so the interior is 1); gaussian uses sigma = window / 8 per
// axis, bump a smooth compact bump; both are floored at 1e-3 of their peak.
std::vector<float> BlendWeights(BlendKind kind, const Shape& window, const Shape& overlap);

}  // namespace volbatch
