// gaussian: separable Gaussian smoothing, equal to
//   scipy.ndimage.gaussian_filter(x.astype(np.float32), sigma, truncate=truncate,
//   output=np.float32)
// (mode irrelevant: the engine supplies the border through virtual padding; "reflect" there is
// scipy's default mode). scipy's kernel: radius = int(truncate * sigma + 0.5), weights
// exp(-x^2 / (2 sigma^2)) normalized to sum 1; an axis with sigma 0 (or radius 0) is left alone.
//
// Precision: we accumulate in float32 (float64 for float64 input). scipy accumulates each 1-D
// pass in float64 but, with a float32 output, stores the result of every pass in float32, so
// the extra error of a float32 accumulator is a few ulps of the data range per pass (tests
// allow 1e-5 of the range). float32 halves memory traffic and doubles the SIMD width, which is
// what makes a 1 GiB volume fast. Note that scipy with an integer output (its default for
// integer input) truncates after every pass; compare with output=np.float32 instead.
//
// The window input arrives grown by Context() (the radius), so every pass is a "valid"
// correlation that shrinks its axis by 2 * radius; the op never pads.
#include <cmath>
#include <memory>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/ops/kernels.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

// d[j] = h[0] c[j] + sum over k = r..1 of h[k] (c[j - k stride] + c[j + k stride]): scipy's
// symmetric correlation (ni_filters.c), summed in the same order. Runs along contiguous j.
template <typename F, typename S, typename Len>
void SymmetricSum(const S* c, Index stride, const F* h, Index r, F* __restrict__ d, Len len) {
  const F h0 = h[0];
  for (Index j = 0; j < len; ++j) d[j] = h0 * static_cast<F>(c[j]);
  for (Index k = r; k >= 1; --k) {
    const S* __restrict__ a = c - k * stride;
    const S* __restrict__ b = c + k * stride;
    const F w = h[k];
    for (Index j = 0; j < len; ++j) d[j] += w * (static_cast<F>(a[j]) + static_cast<F>(b[j]));
  }
}

// One valid pass along an axis: src is [outer, n_in, inner], dst [outer, n_in - 2r, inner]
// with r = h.size() - 1. For inner > 1 (z, y) the innermost loop runs along the contiguous
// inner axes of one output row-plane; for inner == 1 (x) it runs along the row.
template <typename F, typename S>
void SmoothAxis(const S* src, F* dst, Index outer, Index n_in, Index inner,
                const std::vector<F>& h) {
  const Index r = static_cast<Index>(h.size()) - 1;
  const Index n_out = n_in - 2 * r;
  for (Index o = 0; o < outer; ++o) {
    const S* s = src + o * n_in * inner;
    F* d = dst + o * n_out * inner;
    if (inner == 1) {
      kernels::ForBlocks(n_out, [&](Index j0, auto len) {
        SymmetricSum(s + r + j0, Index{1}, h.data(), r, d + j0, len);
      });
      continue;
    }
    for (Index i = 0; i < n_out; ++i) {
      const S* c = s + (i + r) * inner;
      F* di = d + i * inner;
      kernels::ForBlocks(inner, [&](Index j0, auto len) {
        SymmetricSum(c + j0, inner, h.data(), r, di + j0, len);
      });
    }
  }
}

// Smooths the spatial array `src` (shape `shape`) into `out` with one kernel per axis (size 1:
// none). Streams along the first smoothed axis: each output slice is smoothed along that axis
// into a scratch slice, which the remaining axes then smooth recursively into `out`. The
// scratch is one plane and one row, reused, so the temporaries stay in cache and no
// volume-sized buffer is ever allocated (fresh pages cost more than the arithmetic).
template <typename F, typename S>
void SmoothSpatial(const S* src, const Shape& shape, const std::vector<std::vector<F>>& h, F* out) {
  const size_t rank = shape.size();
  size_t a = 0;
  while (a < rank && h[a].size() == 1) ++a;
  if (a == rank) {
    kernels::ConvertCopy(src, kernels::Product(shape, 0, rank), out);
    return;
  }
  size_t b = a + 1;
  while (b < rank && h[b].size() == 1) ++b;
  const Index outer = kernels::Product(shape, 0, a), inner = kernels::Product(shape, a + 1, rank);
  const Index r = static_cast<Index>(h[a].size()) - 1;
  const Index n_in = shape[a], n_out = n_in - 2 * r;
  if (b == rank) {  // the last smoothed axis: straight into the output
    SmoothAxis(src, out, outer, n_in, inner, h[a]);
    return;
  }
  const Shape sub(shape.begin() + a + 1, shape.end());
  const std::vector<std::vector<F>> sub_h(h.begin() + a + 1, h.end());
  Index sub_out = 1;
  for (size_t i = 0; i < sub.size(); ++i)
    sub_out *= sub[i] - 2 * (static_cast<Index>(sub_h[i].size()) - 1);
  std::vector<F> slice(static_cast<size_t>(inner));
  for (Index o = 0; o < outer; ++o) {
    for (Index i = 0; i < n_out; ++i) {
      // One output slice along axis a: a pass over the 2r + 1 input slices around it.
      SmoothAxis(src + (o * n_in + i) * inner, slice.data(), 1, 2 * r + 1, inner, h[a]);
      SmoothSpatial(slice.data(), sub, sub_h, out + (o * n_out + i) * sub_out);
    }
  }
}

// Smooths each channel (the `lead` leading axes) separately.
template <typename F, typename S>
void SmoothChannels(const S* src, const Shape& shape, size_t lead,
                    const std::vector<std::vector<F>>& h, F* out) {
  const Shape spatial(shape.begin() + lead, shape.end());
  Index in_size = 1, out_size = 1;
  for (size_t a = 0; a < spatial.size(); ++a) {
    in_size *= spatial[a];
    out_size *= spatial[a] - 2 * (static_cast<Index>(h[a].size()) - 1);
  }
  const Index channels = kernels::Product(shape, 0, lead);
  for (Index c = 0; c < channels; ++c) {
    SmoothSpatial(src + c * in_size, spatial, h, out + c * out_size);
  }
}

class GaussianOperator final : public Operator {
 public:
  explicit GaussianOperator(OperatorParams& params) : Operator(params.spatial_rank()) {
    sigma_ = params.Numbers("sigma");
    truncate_ = params.Number("truncate", 4.0);
    if (!std::isfinite(truncate_) || truncate_ < 0) {
      throw InvalidArgument("[operator] truncate: must be a finite number >= 0, got " +
                            std::to_string(truncate_));
    }
    for (size_t a = 0; a < sigma_.size(); ++a) {
      const double s = sigma_[a];
      if (!std::isfinite(s) || s < 0) {
        throw InvalidArgument("[operator] sigma: must be finite and >= 0 on every axis, got " +
                              std::to_string(s) + " on axis " + std::to_string(a));
      }
      // scipy: lw = int(truncate * sd + 0.5); a radius this large would not be a window op.
      const double lw = truncate_ * s + 0.5;
      if (lw > kMaxRadius) {
        throw InvalidArgument("[operator] sigma: " + std::to_string(s) + " (truncate " +
                              std::to_string(truncate_) + ") needs a kernel radius above " +
                              std::to_string(kMaxRadius) + " voxels on axis " + std::to_string(a));
      }
      radius_.push_back(static_cast<Index>(lw));
      kernels64_.push_back(HalfKernel(s, radius_.back()));
      kernels32_.emplace_back(kernels64_.back().begin(), kernels64_.back().end());
    }
  }

  std::string name() const override { return "gaussian"; }
  nlohmann::json Parameters() const override {
    return {{"type", "gaussian"}, {"sigma", sigma_}, {"truncate", truncate_}};
  }
  Shape Context() const override { return radius_; }

  DataType ComputeDType(DataType input) const override {
    kernels::RejectFloat16(input, "gaussian");
    return kernels::FloatComputeDType(input);
  }
  void CheckOutputDType(DataType input, DataType output) const override {
    Operator::CheckOutputDType(input, output);
    if (output == DataType::kBool) {
      throw InvalidArgument(
          "gaussian produces smoothed values, which bool cannot hold (add a "
          "threshold step for a mask)");
    }
  }

  Array Compute(const Array& input, const WindowInfo& info) const override {
    const size_t sr = spatial_rank();
    const size_t lead = kernels::ChannelAxes(input, sr, "gaussian");
    Shape out_shape(input.shape().begin(), input.shape().begin() + lead);
    for (size_t a = 0; a < sr; ++a) {
      const Index in = input.shape()[lead + a];
      if (in != info.input.shape[a] || info.output.shape[a] != in - 2 * radius_[a]) {
        throw Internal("gaussian: window input " + ShapeToString(input.shape()) + " over " +
                       info.input.ToString() + " does not give output " + info.output.ToString() +
                       " with context " + ShapeToString(radius_));
      }
      out_shape.push_back(info.output.shape[a]);
    }
    const DataType cdt = ComputeDType(input.dtype());
    Array out = Array::Uninitialized(cdt, out_shape);
    // bool comes as uint8: smoothing it gives a soft mask.
    kernels::VisitArithmetic(input, [&](const auto* src) {
      if (cdt == DataType::kFloat64) {
        SmoothChannels(src, input.shape(), lead, kernels64_, out.data_as<double>());
      } else {
        SmoothChannels(src, input.shape(), lead, kernels32_, out.data_as<float>());
      }
    });
    return out;
  }

 private:
  static constexpr double kMaxRadius = 1 << 20;

  // scipy.ndimage._filters._gaussian_kernel1d(sigma, 0, radius), from the centre outwards.
  static std::vector<double> HalfKernel(double sigma, Index radius) {
    if (radius == 0) return {1.0};
    const double c = -0.5 / (sigma * sigma);
    std::vector<double> h(static_cast<size_t>(radius) + 1);
    double sum = 0;
    for (Index x = 0; x <= radius; ++x) {
      h[x] = std::exp(c * static_cast<double>(x * x));
      sum += x == 0 ? h[x] : 2 * h[x];
    }
    for (double& w : h) w /= sum;
    return h;
  }

  std::vector<double> sigma_;
  double truncate_ = 4.0;
  Shape radius_;
  // Per spatial axis, h[0] at the centre, for float32 and float64 arithmetic.
  std::vector<std::vector<double>> kernels64_;
  std::vector<std::vector<float>> kernels32_;
};

}  // namespace

void RegisterGaussianOperator() {
  RegisterOperator("gaussian", [](OperatorParams& params) -> std::unique_ptr<Operator> {
    return std::make_unique<GaussianOperator>(params);
  });
}

}  // namespace volbatch
