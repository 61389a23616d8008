// Helpers shared by the window operators (gaussian, downsample, upsample): blocked inner loops
// that GCC vectorizes, separable passes axis by axis, and the parameter and element-type
// handling the operators have in common.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "volbatch/core/array.h"
#include "volbatch/core/error.h"
#include "volbatch/ops/operator.h"

namespace volbatch::kernels {

// ---- loops --------------------------------------------------------------------------------

// GCC's -O2 vectorizes a loop only when its trip count is a known multiple of the vector
// width, so inner loops run over blocks of a compile-time length.
inline constexpr Index kBlock = 64;
using FullBlock = std::integral_constant<Index, kBlock>;

// Calls f(start, length) over [0, n) in blocks of kBlock; the last block is shifted back to
// end at n (overlapping its predecessor), so f must compute each output from inputs only.
// Only n < kBlock takes a runtime length.
template <typename Fn>
void ForBlocks(Index n, Fn&& f) {
  if (n < kBlock) {
    if (n > 0) f(Index{0}, n);
    return;
  }
  Index s = 0;
  for (; s + kBlock < n; s += kBlock) f(s, FullBlock{});
  f(n - kBlock, FullBlock{});
}

// The product of s[from, to).
inline Index Product(const Shape& s, size_t from, size_t to) {
  Index p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// out[i] = src[i] as F, for the n elements.
template <typename F, typename S>
void ConvertCopy(const S* src, Index n, F* out) {
  for (Index i = 0; i < n; ++i) out[i] = static_cast<F>(src[i]);
}

// Steps `idx`, a row-major index over every axis of `shape` but the last, to the next row.
inline void NextRow(Shape& idx, const Shape& shape) {
  for (size_t a = shape.size() - 1; a-- > 0;) {
    if (++idx[a] < shape[a]) break;
    idx[a] = 0;
  }
}

// Runs one pass per axis of `axes`, in that order, from `src` (of shape `shape`) into `out`
// (of shape `out_shape`): pass(in, dst, outer, n_in, inner, a) maps in [outer, n_in, inner] to
// dst [outer, out_shape[a], inner] along axis a, and must write all of dst. Intermediate
// results live in temporary buffers of F; with no axes, `out` is `src` converted to F.
template <typename F, typename S, typename Pass>
void SeparablePasses(const S* src, Shape shape, const Shape& out_shape,
                     const std::vector<size_t>& axes, F* out, Pass&& pass) {
  const size_t rank = shape.size();
  if (axes.empty()) {
    ConvertCopy(src, Product(shape, 0, rank), out);
    return;
  }
  std::unique_ptr<F[]> cur;
  for (size_t p = 0; p < axes.size(); ++p) {
    const size_t a = axes[p];
    const Index outer = Product(shape, 0, a), inner = Product(shape, a + 1, rank);
    const Index n_in = shape[a];
    shape[a] = out_shape[a];
    std::unique_ptr<F[]> next;
    F* dst = out;
    if (p + 1 < axes.size()) {
      next.reset(new F[static_cast<size_t>(Product(shape, 0, rank))]);  // all written below
      dst = next.get();
    }
    if (p == 0) {
      pass(src, dst, outer, n_in, inner, a);
    } else {
      pass(static_cast<const F*>(cur.get()), dst, outer, n_in, inner, a);
    }
    cur = std::move(next);
  }
}

// ---- element types ------------------------------------------------------------------------

// Calls f(src) with the elements of `input` as `const S*`, S its arithmetic type; bool is
// stored as one byte 0 or 1 and comes as uint8_t. float16 is skipped: the operators'
// ComputeDType rejects it first.
template <typename Fn>
void VisitArithmetic(const Array& input, Fn&& f) {
  VisitDataType(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_arithmetic_v<T>) {
      using S = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;
      f(reinterpret_cast<const S*>(input.data()));
    }
  });
}

// Throws Unsupported if `input` is float16, which `op` cannot compute on.
inline void RejectFloat16(DataType input, const std::string& op) {
  if (input == DataType::kFloat16) {
    throw Unsupported(op + ": float16 input cannot be computed on; cast it to float32 first");
  }
}

// The floating-point type arithmetic on `input` runs in: float64 for float64, else float32.
inline DataType FloatComputeDType(DataType input) {
  return input == DataType::kFloat64 ? DataType::kFloat64 : DataType::kFloat32;
}

// ---- windows and parameters ---------------------------------------------------------------

// The number of channel axes (0 or 1) before the spatial ones in a window input of `op`;
// throws InvalidArgument for any other rank.
inline size_t ChannelAxes(const Array& input, size_t spatial_rank, const std::string& op) {
  if (input.rank() != spatial_rank && input.rank() != spatial_rank + 1) {
    throw InvalidArgument(op + ": window input of shape " + ShapeToString(input.shape()) +
                          " is not " + std::to_string(spatial_rank) +
                          " spatial axes, optionally after a channel axis");
  }
  return input.rank() - spatial_rank;
}

// The largest scaling factor: beyond it one output voxel would read a group too big for a
// window (downsample), or one input voxel would make a window's worth of output (upsample).
inline constexpr Index kMaxFactor = 1 << 16;

// The per-axis integer parameter "factor", each from 1 to kMaxFactor.
inline Shape ReadFactors(OperatorParams& params) {
  Shape factor = params.Integers("factor");
  for (size_t a = 0; a < factor.size(); ++a) {
    if (factor[a] < 1 || factor[a] > kMaxFactor) {
      throw InvalidArgument("[operator] factor: must be an integer from 1 to " +
                            std::to_string(kMaxFactor) + " on every axis, got " +
                            std::to_string(factor[a]) + " on axis " + std::to_string(a));
    }
  }
  return factor;
}

// The string parameter `key` as one of `choices` (name, value); missing, it is the first.
// Throws InvalidArgument "[operator] key: \"v\" is not <what> (name, name, ...)".
template <typename E>
E ReadChoice(OperatorParams& params, const std::string& key,
             std::initializer_list<std::pair<const char*, E>> choices, const std::string& what) {
  const std::string v = params.String(key, choices.begin()->first);
  std::string names;
  for (const auto& [name, value] : choices) {
    if (v == name) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw InvalidArgument("[operator] " + key + ": \"" + v + "\" is not " + what + " (" + names +
                        ")");
}

}  // namespace volbatch::kernels
