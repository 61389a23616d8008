#include "volbatch/model/tta.h"

#include <algorithm>

#include "volbatch/core/error.h"

namespace volbatch {

std::vector<Flip> Flips(const std::vector<size_t>& axes) {
  std::vector<Flip> flips;
  const size_t n = size_t{1} << axes.size();
  for (size_t k = 0; k < n; ++k) {
    Flip f;
    for (size_t i = 0; i < axes.size(); ++i) {
      if (k & (size_t{1} << i)) f.push_back(axes[i]);
    }
    flips.push_back(f);
  }
  return flips;
}

namespace {

// Reverses one axis: the buffer is `outer` runs of `n` slabs of `inner` elements.
void ReverseAxis(float* data, Index outer, Index n, Index inner) {
  for (Index o = 0; o < outer; ++o) {
    float* run = data + o * n * inner;
    for (Index i = 0; i < n / 2; ++i) {
      std::swap_ranges(run + i * inner, run + (i + 1) * inner, run + (n - 1 - i) * inner);
    }
  }
}

}  // namespace

void FlipInPlace(float* data, Index channels, const Shape& spatial, const Flip& flip) {
  for (size_t axis : flip) {
    if (axis >= spatial.size()) {
      throw Internal("tta: flip axis " + std::to_string(axis) + " of a rank " +
                     std::to_string(spatial.size()) + " window");
    }
    Index outer = channels, inner = 1;
    for (size_t a = 0; a < axis; ++a) outer *= spatial[a];
    for (size_t a = axis + 1; a < spatial.size(); ++a) inner *= spatial[a];
    ReverseAxis(data, outer, spatial[axis], inner);
  }
}

std::vector<float> MeanOf(const std::vector<std::span<const float>>& ys) {
  if (ys.empty()) throw Internal("tta: the mean of no predictions");
  const size_t n = ys[0].size();
  std::vector<double> sum(n, 0.0);
  for (const std::span<const float> y : ys) {
    if (y.size() != n) throw Internal("tta: predictions of different sizes");
    for (size_t v = 0; v < n; ++v) sum[v] += y[v];
  }
  std::vector<float> mean(n);
  const double count = static_cast<double>(ys.size());
  for (size_t v = 0; v < n; ++v) mean[v] = static_cast<float>(sum[v] / count);
  return mean;
}

}  // namespace volbatch
