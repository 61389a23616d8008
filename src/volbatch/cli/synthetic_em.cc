#include "volbatch/cli/synthetic_em.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>

#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"

namespace volbatch {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double Unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

uint64_t CellHash(uint64_t seed, Index z, Index y, Index x) {
  return Mix(seed ^ Mix(static_cast<uint64_t>(z) * 0x1f1f1f1full ^
                        Mix(static_cast<uint64_t>(y) * 0x3779b97full ^ static_cast<uint64_t>(x))));
}

}  // namespace

Array SyntheticEm(const Box& region, const SyntheticEmOptions& o) {
  if (region.rank() != 3) throw InvalidArgument("synthetic EM volumes are 3-D (z, y, x)");
  Array out(DataType::kUint8, region.shape);
  uint8_t* data = out.data_as<uint8_t>();
  const Index ny = region.shape[1], nx = region.shape[2];
  const double s = o.cell_size;
  ParallelFor(Index{0}, region.shape[0], [&](Index lz) {
    const Index z = region.begin[0] + lz;
    std::array<Index, 3> cell{INT64_MIN, 0, 0};
    std::array<std::array<double, 3>, 27> seeds{};
    std::array<uint64_t, 27> hashes{};
    for (Index ly = 0; ly < ny; ++ly) {
      const Index y = region.begin[1] + ly;
      for (Index lx = 0; lx < nx; ++lx) {
        const Index x = region.begin[2] + lx;
        const Index cz = static_cast<Index>(std::floor(z / s));
        const Index cy = static_cast<Index>(std::floor(y / s));
        const Index cx = static_cast<Index>(std::floor(x / s));
        if (cz != cell[0] || cy != cell[1] || cx != cell[2]) {
          // Consecutive voxels share a cell: the 27 neighbouring seeds change rarely.
          cell = {cz, cy, cx};
          int k = 0;
          for (Index dz = -1; dz <= 1; ++dz) {
            for (Index dy = -1; dy <= 1; ++dy) {
              for (Index dx = -1; dx <= 1; ++dx, ++k) {
                const uint64_t h = CellHash(o.seed, cz + dz, cy + dy, cx + dx);
                seeds[k] = {(cz + dz + 0.15 + 0.7 * Unit(Mix(h ^ 1))) * s,
                            (cy + dy + 0.15 + 0.7 * Unit(Mix(h ^ 2))) * s,
                            (cx + dx + 0.15 + 0.7 * Unit(Mix(h ^ 3))) * s};
                hashes[k] = h;
              }
            }
          }
        }
        double d1 = 1e30, d2 = 1e30;
        uint64_t nearest = 0;
        for (int k = 0; k < 27; ++k) {
          const auto& p = seeds[k];
          const double d =
              (z - p[0]) * (z - p[0]) + (y - p[1]) * (y - p[1]) + (x - p[2]) * (x - p[2]);
          if (d < d1) {
            d2 = d1;
            d1 = d;
            nearest = hashes[k];
          } else if (d < d2) {
            d2 = d;
          }
        }
        const double nearest_dist_to_seed = d1;
        // Distance to the bisecting plane of the two nearest seeds approximates the distance
        // to the membrane.
        const double gap = (std::sqrt(d2) - std::sqrt(d1)) * 0.5;
        double v = 150 + 40 * Unit(Mix(nearest ^ 7));  // cytoplasm, a grey level per cell
        const double membrane = std::exp(-gap * gap / 2.0);
        v = v * (1 - membrane) + 35 * membrane;
        // An organelle (mitochondrion-like blob) in some cells, around the cell's seed.
        if (Unit(Mix(nearest ^ 11)) < 0.5) {
          const double r = s * (0.12 + 0.12 * Unit(Mix(nearest ^ 13)));
          const double t = std::sqrt(nearest_dist_to_seed) - r;
          const double blob = 1.0 / (1.0 + std::exp(t));
          v = v * (1 - blob) + 75 * blob;
        }
        if (o.noise_sigma > 0) {
          const uint64_t n = Mix(o.seed * 31 + CellHash(o.seed ^ 0xabcdef, z, y, x));
          // Sum of four uniforms: close to a gaussian, cheap and deterministic.
          const double g =
              (Unit(n) + Unit(Mix(n ^ 1)) + Unit(Mix(n ^ 2)) + Unit(Mix(n ^ 3)) - 2.0) * 1.7320508;
          v += o.noise_sigma * g;
        }
        data[(lz * ny + ly) * nx + lx] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  });
  return out;
}

}  // namespace volbatch
