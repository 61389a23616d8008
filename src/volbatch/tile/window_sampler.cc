#include "volbatch/tile/window_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {

uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

CounterRng::CounterRng(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  // Chained hashing: each key word changes every bit of the state.
  state_ = Mix64(Mix64(Mix64(Mix64(seed) ^ a) ^ b) ^ c);
}

uint64_t CounterRng::Next() {
  state_ += 0x9E3779B97F4A7C15ull;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t CounterRng::Uniform(uint64_t n) {
  if (n <= 1) return 0;
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(Next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double CounterRng::UniformReal() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

bool Augmentation::IsIdentityGeometry() const {
  for (bool f : flip) {
    if (f) return false;
  }
  return rot90 % 4 == 0;
}

namespace {

Index FloorDiv(Index a, Index b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

std::string Name(const SampledSource& s, size_t i) {
  return s.name.empty() ? "source " + std::to_string(i) : "source '" + s.name + "'";
}

}  // namespace

WindowSampler::WindowSampler(std::vector<SampledSource> sources, WindowSamplerOptions options)
    : sources_(std::move(sources)), options_(std::move(options)) {
  const Shape& w = options_.window;
  CheckRank(w.size(), "window");
  const size_t rank = w.size();
  for (size_t i = 0; i < rank; ++i) {
    if (w[i] < 1) throw InvalidArgument("window " + ShapeToString(w) + " must be positive");
  }
  if (sources_.empty()) throw InvalidArgument("sources: at least one source is needed");
  if (!options_.flip.empty() && options_.flip.size() != rank) {
    throw InvalidArgument("flip: " + std::to_string(options_.flip.size()) +
                          " axes given for a window of rank " + std::to_string(rank));
  }
  if (options_.flip.empty()) options_.flip.assign(rank, false);
  if (options_.rotate) {
    if (rank < 2) throw InvalidArgument("rotate: needs a window of rank >= 2");
    if (w[rank - 1] != w[rank - 2]) {
      throw InvalidArgument(
          "rotate: 90-degree rotations need a square window in the last two "
          "axes; window is " +
          ShapeToString(w));
    }
  }
  if (!(options_.gain_jitter >= 0 && options_.gain_jitter < 1)) {
    throw InvalidArgument("gain_jitter must be in [0, 1)");
  }
  if (!(options_.offset_jitter >= 0 && std::isfinite(options_.offset_jitter))) {
    throw InvalidArgument("offset_jitter must be finite and >= 0");
  }
  align_.assign(rank, 1);
  for (size_t s = 0; s < sources_.size(); ++s) {
    const SampledSource& src = sources_[s];
    if (src.shape.size() != rank) {
      throw InvalidArgument(Name(src, s) + ": spatial shape " + ShapeToString(src.shape) +
                            " and window " + ShapeToString(w) + " differ in rank");
    }
    if (src.scale.rank() != rank) {
      throw InvalidArgument(Name(src, s) + ": scale " + src.scale.ToString() + " and window " +
                            ShapeToString(w) + " differ in rank");
    }
    src.scale.Check(Name(src, s) + ": scale");
    for (size_t i = 0; i < rank; ++i) {
      if (w[i] % src.scale.down[i] != 0) {
        throw InvalidArgument(
            Name(src, s) + ": window[" + std::to_string(i) + "] = " + std::to_string(w[i]) +
            " is not a multiple of its down-factor " + std::to_string(src.scale.down[i]));
      }
      align_[i] = std::lcm(align_[i], src.scale.down[i]);
    }
    if (options_.rotate && (src.scale.up[rank - 1] != src.scale.up[rank - 2] ||
                            src.scale.down[rank - 1] != src.scale.down[rank - 2])) {
      throw InvalidArgument(Name(src, s) +
                            ": rotate needs the same scale on the last two axes, "
                            "scale is " +
                            src.scale.ToString());
    }
  }
  max_start_.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    Index m = -1;
    for (size_t s = 0; s < sources_.size(); ++s) {
      const SampledSource& src = sources_[s];
      const Index sw = CheckedMul(w[i], src.scale.up[i], "window") / src.scale.down[i];
      if (sw > src.shape[i]) {
        throw InvalidArgument(Name(src, s) + ": the window is " + ShapeToString(SourceWindow(s)) +
                              " voxels there, larger than its shape " + ShapeToString(src.shape));
      }
      // p * up / down + sw <= shape.
      const Index ms =
          FloorDiv(CheckedMul(src.shape[i] - sw, src.scale.down[i], "shape"), src.scale.up[i]);
      m = (m < 0) ? ms : std::min(m, ms);
    }
    max_start_[i] = m / align_[i] * align_[i];
  }
}

Index WindowSampler::num_positions() const {
  Index n = 1;
  for (size_t i = 0; i < rank(); ++i) n = CheckedMul(n, max_start_[i] / align_[i] + 1, "positions");
  return n;
}

Box WindowSampler::Reachable() const {
  Shape shape(rank());
  for (size_t i = 0; i < rank(); ++i) shape[i] = max_start_[i] + options_.window[i];
  return Box(Shape(rank(), 0), shape);
}

Box WindowSampler::ReachableIn(size_t s) const {
  const Box r = Reachable();
  Shape shape(rank());
  for (size_t i = 0; i < rank(); ++i) {
    shape[i] = r.shape[i] * sources_[s].scale.up[i] / sources_[s].scale.down[i];
  }
  return Box(Shape(rank(), 0), shape);
}

void WindowSampler::SetStream(Index worker, Index num_workers, Index start, Index block) {
  if (num_workers < 1 || worker < 0 || worker >= num_workers) {
    throw InvalidArgument("stream: worker " + std::to_string(worker) + " of " +
                          std::to_string(num_workers) + " is not in [0, num_workers)");
  }
  if (start < 0) throw InvalidArgument("stream: start must be >= 0");
  if (block < 1) throw InvalidArgument("stream: block must be >= 1");
  worker_ = worker;
  num_workers_ = num_workers;
  start_ = start;
  block_ = block;
}

Index WindowSampler::GlobalIndex(Index local) const {
  const char* what = "window index";
  const Index b = CheckedAdd(worker_, CheckedMul(num_workers_, local / block_, what), what);
  return CheckedAdd(start_, CheckedAdd(CheckedMul(b, block_, what), local % block_, what), what);
}

CounterRng WindowSampler::Rng(Index global, Purpose purpose, Index attempt) const {
  return CounterRng(options_.seed, static_cast<uint64_t>(global), static_cast<uint64_t>(purpose),
                    static_cast<uint64_t>(attempt));
}

Shape WindowSampler::Position(Index global, Index attempt) const {
  CounterRng rng = Rng(global, Purpose::kPosition, attempt);
  Shape p(rank());
  for (size_t i = 0; i < rank(); ++i) {
    p[i] = static_cast<Index>(rng.Uniform(static_cast<uint64_t>(max_start_[i] / align_[i] + 1))) *
           align_[i];
  }
  return p;
}

Shape WindowSampler::PositionContaining(const Shape& voxel) const {
  if (voxel.size() != rank()) throw InvalidArgument("voxel rank differs from the window's");
  Shape p(rank());
  for (size_t i = 0; i < rank(); ++i) {
    const Index w = options_.window[i], a = align_[i];
    // Valid starts p with p <= voxel < p + w, aligned, within [0, max_start].
    const Index lo = (std::max<Index>(0, voxel[i] - w + 1) + a - 1) / a * a;
    const Index hi = FloorDiv(std::min(max_start_[i], voxel[i]), a) * a;
    if (voxel[i] < 0 || lo > hi) {
      throw InvalidArgument("voxel " + ShapeToString(voxel) +
                            " is outside every window the sampler can draw (reachable " +
                            Reachable().ToString() + ")");
    }
    const Index centred = FloorDiv(voxel[i] - w / 2 + a / 2, a) * a;  // nearest aligned
    p[i] = std::clamp(centred, lo, hi);
  }
  return p;
}

Augmentation WindowSampler::DrawAugmentation(Index global) const {
  CounterRng rng = Rng(global, Purpose::kAugmentation);
  Augmentation a;
  a.flip.assign(rank(), false);
  // Fixed draw order (every axis draws, allowed or not), so enabling one option does not
  // change the others' draws.
  for (size_t i = 0; i < rank(); ++i) {
    const bool f = rng.Next() >> 63;
    a.flip[i] = options_.flip[i] && f;
  }
  const int k = static_cast<int>(rng.Uniform(4));
  a.rot90 = options_.rotate ? k : 0;
  const double g = rng.UniformReal(), o = rng.UniformReal();
  a.gain = 1 + options_.gain_jitter * (2 * g - 1);
  a.offset = options_.offset_jitter * (2 * o - 1);
  return a;
}

Shape WindowSampler::SourceWindow(size_t s) const {
  Shape w(rank());
  for (size_t i = 0; i < rank(); ++i) {
    w[i] = options_.window[i] * sources_[s].scale.up[i] / sources_[s].scale.down[i];
  }
  return w;
}

Box WindowSampler::SourceBox(size_t s, const Shape& position) const {
  Shape b(rank());
  for (size_t i = 0; i < rank(); ++i) {
    b[i] = position[i] * sources_[s].scale.up[i] / sources_[s].scale.down[i];
  }
  return Box(b, SourceWindow(s));
}

Shape WindowSampler::ToReference(size_t s, const Shape& v) const {
  Shape r(rank());
  for (size_t i = 0; i < rank(); ++i) {
    r[i] = FloorDiv(v[i] * sources_[s].scale.down[i], sources_[s].scale.up[i]);
  }
  return r;
}

}  // namespace volbatch
