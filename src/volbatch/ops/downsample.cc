// downsample: output voxel o reduces the input voxels [o f, (o + 1) f) along every axis that lie
// inside the volume. A window's input may run past the volume's far edge (the engine pads it
// virtually); those voxels are ignored, so an edge voxel reduces only the real ones.
//   mean: the arithmetic mean; with whole groups it equals
//         x.reshape(Z//fz, fz, Y//fy, fy, X//fx, fx).mean(axis=(1, 3, 5)), at a ragged edge
//         x[o*f:(o+1)*f, ...].mean() over the part inside the volume.
//         Sums in float32 (float64 for float64 input): integer sums are exact up to 2^24.
//   mode:  the most frequent value, ties to the smallest, i.e.
//         scipy.stats.mode(group.ravel(), keepdims=False).mode; computed in the input type, so
//         labels (uint64 too) stay exact.
// Channels (a leading axis) are reduced separately.
#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/ops/kernels.h"
#include "volbatch/ops/operator.h"

namespace volbatch {
namespace {

// One axis of the window: its reduction factor and the part [lo, hi) of the window input that
// lies inside the volume (local coordinates).
struct Axis {
  Index factor = 1;
  Index lo = 0;
  Index hi = 0;
  // The input range output voxel i reduces (empty when it lies wholly outside the volume).
  Index Begin(Index i) const { return std::max(i * factor, lo); }
  Index End(Index i) const { return std::max(Begin(i), std::min((i + 1) * factor, hi)); }
};

// Sums groups along one axis: src [outer, n_in, inner] -> dst [outer, n_in / f, inner], in
// input order, so a voxel's sum does not depend on where its window starts.
template <typename F, typename S>
void SumAxis(const S* src, F* dst, Index outer, Index n_in, Index inner, const Axis& ax) {
  const Index n_out = n_in / ax.factor;
  for (Index o = 0; o < outer; ++o) {
    const S* s = src + o * n_in * inner;
    F* d = dst + o * n_out * inner;
    for (Index i = 0; i < n_out; ++i) {
      const Index b = ax.Begin(i), e = ax.End(i);
      if (inner == 1) {
        F acc = b < e ? static_cast<F>(s[b]) : F{0};
        for (Index j = b + 1; j < e; ++j) acc += static_cast<F>(s[j]);
        d[i] = acc;
        continue;
      }
      F* di = d + i * inner;
      if (b == e) {
        std::fill(di, di + inner, F{0});
        continue;
      }
      kernels::ForBlocks(inner, [&](Index j0, auto len) {
        F* __restrict__ dj = di + j0;
        const S* first = s + b * inner + j0;
        for (Index j = 0; j < len; ++j) dj[j] = static_cast<F>(first[j]);
        for (Index k = b + 1; k < e; ++k) {
          const S* __restrict__ sk = s + k * inner + j0;
          for (Index j = 0; j < len; ++j) dj[j] += static_cast<F>(sk[j]);
        }
      });
    }
  }
}

// Group sums axis by axis (the last first: it shrinks the data most cheaply), then divides
// each sum by the number of real voxels in its group. `shape` and `out_shape` are full rank.
template <typename F, typename S>
void Mean(const S* src, const Shape& shape, const std::vector<Axis>& axes, const Shape& out_shape,
          F* out) {
  const size_t rank = shape.size();
  std::vector<size_t> reduce;
  for (size_t a = rank; a-- > 0;) {
    if (axes[a].factor > 1) reduce.push_back(a);
  }
  kernels::SeparablePasses(src, shape, out_shape, reduce, out,
                           [&](const auto* in, F* dst, Index outer, Index n_in, Index inner,
                               size_t a) { SumAxis(in, dst, outer, n_in, inner, axes[a]); });
  if (reduce.empty()) return;
  // Divide by the group sizes: per row, the product of the leading axes' counts times the
  // count along the last axis.
  const Index row = out_shape[rank - 1];
  std::vector<F> last(static_cast<size_t>(row));
  for (Index x = 0; x < row; ++x) {
    last[x] = static_cast<F>(axes[rank - 1].End(x) - axes[rank - 1].Begin(x));
  }
  Shape idx(rank - 1, 0);
  const Index rows = kernels::Product(out_shape, 0, rank - 1);
  for (Index r = 0; r < rows; ++r) {
    Index lead = 1;
    for (size_t a = 0; a + 1 < rank; ++a) lead *= axes[a].End(idx[a]) - axes[a].Begin(idx[a]);
    F* d = out + r * row;
    for (Index x = 0; x < row; ++x) {
      const F n = static_cast<F>(lead) * last[x];
      d[x] = n > 0 ? d[x] / n : F{0};  // n == 0 only outside the volume: nothing to average
    }
    kernels::NextRow(idx, out_shape);
  }
}

// A total order for floats that puts NaN last, so sorting is well defined.
template <typename T>
bool Less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a < b || (!std::isnan(a) && std::isnan(b));
  } else {
    return a < b;
  }
}
template <typename T>
bool Same(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a == b || (std::isnan(a) && std::isnan(b));
  } else {
    return a == b;
  }
}

// The most frequent of v[0..n), ties to the smallest. Small groups (2x2x2) count pairs, which
// beats sorting; large ones sort. `v` is scratch.
template <typename T>
T ModeOf(T* v, Index n) {
  T best = v[0];
  Index best_count = 0;
  if (n <= 16) {
    for (Index i = 0; i < n; ++i) {
      Index c = 0;
      for (Index j = 0; j < n; ++j) c += Same(v[i], v[j]);
      if (c > best_count || (c == best_count && Less(v[i], best))) {
        best = v[i];
        best_count = c;
      }
    }
    return best;
  }
  std::sort(v, v + n, Less<T>);
  for (Index i = 0; i < n;) {
    Index j = i + 1;
    while (j < n && Same(v[i], v[j])) ++j;
    if (j - i > best_count) {  // ascending order: an equal count later is a larger value
      best = v[i];
      best_count = j - i;
    }
    i = j;
  }
  return best;
}

// For each output row (all axes but the last fixed), collects the input rows its groups read,
// then gathers each group across them.
template <typename T>
void Mode(const T* src, const Shape& in_shape, const std::vector<Axis>& axes,
          const Shape& out_shape, T* out) {
  const size_t rank = in_shape.size();
  const Axis& ax = axes[rank - 1];
  const Index row_in = in_shape[rank - 1], row_out = out_shape[rank - 1];
  // The largest group: never more than the window holds, whatever the factors.
  Index group = 1;
  for (const Axis& a : axes) group *= std::min(a.factor, a.hi - a.lo);
  std::vector<T> values(static_cast<size_t>(std::max<Index>(group, 0)));
  std::vector<const T*> rows;
  Shape idx(rank - 1, 0), k(rank - 1, 0);
  const Index n_rows = kernels::Product(out_shape, 0, rank - 1);
  for (Index r = 0; r < n_rows; ++r) {
    // The input rows: every combination of the leading axes' group ranges.
    rows.clear();
    bool empty = false;
    for (size_t a = 0; a + 1 < rank; ++a) {
      k[a] = axes[a].Begin(idx[a]);
      empty |= k[a] == axes[a].End(idx[a]);
    }
    while (!empty) {
      Index off = 0;
      for (size_t a = 0; a + 1 < rank; ++a) off = off * in_shape[a] + k[a];
      rows.push_back(src + off * row_in);
      size_t a = rank - 1;
      while (a-- > 0) {
        if (++k[a] < axes[a].End(idx[a])) break;
        k[a] = axes[a].Begin(idx[a]);
      }
      if (a == static_cast<size_t>(-1)) break;
    }
    T* d = out + r * row_out;
    for (Index x = 0; x < row_out; ++x) {
      Index n = 0;
      for (const T* s : rows) {
        for (Index j = ax.Begin(x); j < ax.End(x); ++j) values[n++] = s[j];
      }
      d[x] = n > 0 ? ModeOf(values.data(), n) : T{};  // n == 0 only outside the volume
    }
    kernels::NextRow(idx, out_shape);
  }
}

enum class Method { kMean, kMode };

class DownsampleOperator final : public Operator {
 public:
  explicit DownsampleOperator(OperatorParams& params) : Operator(params.spatial_rank()) {
    factor_ = kernels::ReadFactors(params);
    method_ = kernels::ReadChoice<Method>(params, "method",
                                          {{"mean", Method::kMean}, {"mode", Method::kMode}},
                                          "a downsample method");
  }

  std::string name() const override { return "downsample"; }
  nlohmann::json Parameters() const override {
    return {{"type", "downsample"},
            {"factor", factor_},
            {"method", method_ == Method::kMean ? "mean" : "mode"}};
  }
  Shape Context() const override { return Shape(spatial_rank(), 0); }
  Scale GetScale() const override { return Scale{Shape(spatial_rank(), 1), factor_}; }

  DataType ComputeDType(DataType input) const override {
    kernels::RejectFloat16(input, "downsample");
    if (method_ == Method::kMode) return input;
    return kernels::FloatComputeDType(input);
  }
  void CheckOutputDType(DataType input, DataType output) const override {
    Operator::CheckOutputDType(input, output);
    if (method_ == Method::kMean && output == DataType::kBool) {
      throw InvalidArgument(
          "downsample mean produces fractions, which bool cannot hold (use "
          "method = \"mode\" for masks and labels)");
    }
  }

  Array Compute(const Array& input, const WindowInfo& info) const override {
    const size_t sr = spatial_rank();
    const size_t lead = kernels::ChannelAxes(input, sr, "downsample");
    // Full-rank description: a channel axis is an axis with factor 1 and nothing to clip.
    std::vector<Axis> axes;
    Shape out_shape;
    if (lead) {
      axes.push_back({1, 0, input.shape()[0]});
      out_shape.push_back(input.shape()[0]);
    }
    for (size_t a = 0; a < sr; ++a) {
      const Index n = input.shape()[lead + a], f = factor_[a];
      if (n != info.input.shape[a] || info.input.begin[a] != info.output.begin[a] * f ||
          n != info.output.shape[a] * f) {
        throw Internal("downsample: window input " + ShapeToString(input.shape()) + " over " +
                       info.input.ToString() + " is not output " + info.output.ToString() +
                       " scaled by " + ShapeToString(factor_));
      }
      const Index b = info.input.begin[a];
      axes.push_back(
          {f, std::clamp<Index>(-b, 0, n), std::clamp<Index>(info.input_volume[a] - b, 0, n)});
      out_shape.push_back(info.output.shape[a]);
    }
    const DataType cdt = ComputeDType(input.dtype());
    Array out = Array::Uninitialized(cdt, out_shape);
    // bool comes as uint8, one byte 0 or 1 (the mode stays 0 or 1).
    kernels::VisitArithmetic(input, [&](const auto* src) {
      using S = std::remove_cv_t<std::remove_pointer_t<decltype(src)>>;
      if (method_ == Method::kMode) {
        Mode(src, input.shape(), axes, out_shape, reinterpret_cast<S*>(out.data()));
      } else if (cdt == DataType::kFloat64) {
        Mean(src, input.shape(), axes, out_shape, out.data_as<double>());
      } else {
        Mean(src, input.shape(), axes, out_shape, out.data_as<float>());
      }
    });
    return out;
  }

 private:
  Shape factor_;
  Method method_ = Method::kMean;
};

}  // namespace

void RegisterDownsampleOperator() {
  RegisterOperator("downsample", [](OperatorParams& params) -> std::unique_ptr<Operator> {
    return std::make_unique<DownsampleOperator>(params);
  });
}

}  // namespace volbatch
