// A synthetic volume electron microscopy stack: cells (a 3D Voronoi tessellation) with dark
// membranes, darker organelle blobs and noise. Every voxel is a pure function of its position
// and the seed, so any region can be generated on its own (block-wise, in parallel) and two
// generations agree bit for bit.
#pragma once

#include <cstdint>

#include "volbatch/core/array.h"

namespace volbatch {

struct SyntheticEmOptions {
  uint64_t seed = 1;
  double cell_size = 48;    // voxels between cell centres
  double noise_sigma = 6;  // grey levels; 0 gives the clean volume
};

// A uint8 (z, y, x) array of `region` of the infinite synthetic volume.
Array SyntheticEm(const Box& region, const SyntheticEmOptions& options);

}  // namespace volbatch
