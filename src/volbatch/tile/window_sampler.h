// WindowSampler: where random training windows go, and how each is augmented — geometry only
// (the train layer reads the data). Several aligned sources (raw, labels, a low-res input and a
// high-res target) are windows onto the same physical region, each at its own scale relative to
// one reference grid; a window is drawn once in that grid and mapped to every source.
//
// Every draw is a pure function of (seed, global window index, attempt): a counter-based
// generator, not a shared stateful one, so windows do not depend on which thread or process
// computes them or in which order. A stream (a DataLoader worker) takes blocks of `block`
// consecutive global indices in turn — block j of the stream is block worker + num_workers * j
// after `start` — so N workers together produce exactly the windows one process would, no two
// workers ever compute the same index, and batches (block = batch size) taken from the workers
// in turn come out in the single process's order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "volbatch/core/box.h"
#include "volbatch/tile/scale.h"

namespace volbatch {

// Counter-based random numbers: SplitMix64 over a state derived from the key by hashing, so
// any (seed, key...) gives an independent, reproducible sequence.
class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);
  uint64_t Next();
  // Uniform in [0, n), unbiased (Lemire's method); n >= 1.
  uint64_t Uniform(uint64_t n);
  // Uniform in [0, 1), 53 bits.
  double UniformReal();

 private:
  uint64_t state_;
};

// SplitMix64's finaliser (the same mixing synthetic_em uses).
uint64_t Mix64(uint64_t x);

// One sampled source as the geometry sees it: its spatial shape (no channel axis) and its
// scale: source coordinate = reference coordinate * up / down, per axis.
struct SampledSource {
  std::string name;  // for messages
  Shape shape;
  Scale scale;
};

// Per-window augmentation, applied in this order: flip the axes with flip[i] set, then rotate
// by k * 90 degrees in the plane of the last two axes (numpy: np.rot90(w, k, axes=(-2, -1))),
// then intensity (images only): value * gain + offset.
struct Augmentation {
  std::vector<bool> flip;
  int rot90 = 0;
  double gain = 1;
  double offset = 0;
  bool IsIdentityGeometry() const;
};

struct WindowSamplerOptions {
  Shape window = {};  // in the reference grid, (z, y, x) or any rank
  uint64_t seed = 0;
  std::vector<bool> flip = {};  // axes that may be flipped (each with probability 1/2); empty: none
  bool rotate = false;          // k uniform in {0, 1, 2, 3}; needs a square (y, x) window
  double gain_jitter = 0;       // gain uniform in [1 - gain_jitter, 1 + gain_jitter]
  double offset_jitter = 0;     // offset uniform in [-offset_jitter, offset_jitter]
};

class WindowSampler {
 public:
  // Throws InvalidArgument naming the source and axis when a window does not map to whole
  // voxels of a source or does not fit in it, or an option is out of range.
  WindowSampler(std::vector<SampledSource> sources, WindowSamplerOptions options);

  const WindowSamplerOptions& options() const { return options_; }
  const std::vector<SampledSource>& sources() const { return sources_; }
  size_t rank() const { return options_.window.size(); }
  // Window starts are multiples of align (so that they are whole voxels of every source).
  const Shape& align() const { return align_; }
  // The largest valid start per axis (a multiple of align); valid starts are 0, align, ... .
  const Shape& max_start() const { return max_start_; }
  // Number of valid positions (product over axes).
  Index num_positions() const;
  // The reference region any window can touch: [0, max_start + window).
  Box Reachable() const;
  // The same in the coordinates of source `s`.
  Box ReachableIn(size_t s) const;

  // The stream: local window k is global index
  // start + (worker + num_workers * (k / block)) * block + k % block.
  void SetStream(Index worker, Index num_workers, Index start = 0, Index block = 1);
  Index worker() const { return worker_; }
  Index num_workers() const { return num_workers_; }
  Index GlobalIndex(Index local) const;

  // A generator for one purpose of one window; attempts of the rejection rule get their own.
  enum class Purpose : uint64_t { kPosition = 1, kAugmentation = 2, kClass = 3, kVoxel = 4 };
  CounterRng Rng(Index global, Purpose purpose, Index attempt = 0) const;

  // Uniform over valid positions (reference-grid start of the window).
  Shape Position(Index global, Index attempt) const;
  // The valid position whose window contains reference voxel `voxel`, as close to centring it
  // (voxel at window / 2) as the volume's edges and the alignment allow. Throws
  // InvalidArgument if no valid window contains it (outside Reachable()).
  Shape PositionContaining(const Shape& voxel) const;
  Augmentation DrawAugmentation(Index global) const;

  // The window at reference start `position` in source `s`'s spatial coordinates.
  Box SourceBox(size_t s, const Shape& position) const;
  // Source `s`'s window shape.
  Shape SourceWindow(size_t s) const;
  // The reference voxel that source voxel `v` of source `s` lies in.
  Shape ToReference(size_t s, const Shape& v) const;

 private:
  std::vector<SampledSource> sources_;
  WindowSamplerOptions options_;
  Shape align_, max_start_;
  Index worker_ = 0, num_workers_ = 1, start_ = 0, block_ = 1;
};

}  // namespace volbatch
