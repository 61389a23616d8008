#include "volbatch/train/window_transform.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "volbatch/core/error.h"

namespace volbatch {

namespace {

// Storage types of a given size, for moving elements without converting them.
template <size_t N>
struct Raw;
template <>
struct Raw<1> {
  using T = uint8_t;
};
template <>
struct Raw<2> {
  using T = uint16_t;
};
template <>
struct Raw<4> {
  using T = uint32_t;
};
template <>
struct Raw<8> {
  using T = uint64_t;
};

// Output axis o reads input axis axis[o], reversed when rev[o].
struct AxisMap {
  std::vector<size_t> axis;
  std::vector<bool> rev;
};

AxisMap MapAxes(size_t rank, const Augmentation& aug) {
  const size_t spatial = aug.flip.size(), lead = rank - spatial;
  AxisMap m;
  for (size_t o = 0; o < rank; ++o) {
    m.axis.push_back(o);
    m.rev.push_back(o >= lead && aug.flip[o - lead]);
  }
  const int k = ((aug.rot90 % 4) + 4) % 4;
  for (int step = 0; step < k; ++step) {
    // np.rot90 once over (y, x): out[.., i, j] = prev[.., j, X - 1 - i].
    const size_t y = rank - 2, x = rank - 1;
    const size_t ay = m.axis[y], ax = m.axis[x];
    const bool ry = m.rev[y], rx = m.rev[x];
    m.axis[y] = ax;
    m.rev[y] = !rx;
    m.axis[x] = ay;
    m.rev[x] = ry;
  }
  return m;
}

bool IsIntegral(DataType t) { return !IsFloat(t) && t != DataType::kBool; }

template <typename Out, typename In>
[[noreturn]] void OutOfRange(In v, const std::string& what, DataType to) {
  throw InvalidArgument(what + ": value " + std::to_string(v) + " does not fit in " +
                        std::string(DataTypeName(to)) + " (choose a wider dtype)");
}

template <typename Out, typename In>
bool Fits(In v) {
  return std::in_range<Out>(v);
}

// Runs f(in_offset, out_offset, n, in_stride) over every output row.
template <typename F>
void ForEachOutputRow(const Shape& in_shape, const Shape& out_shape, const AxisMap& m, F&& f) {
  const size_t rank = in_shape.size();
  std::vector<Index> in_stride(rank), step(rank);
  Index s = 1;
  for (size_t i = rank; i-- > 0;) {
    in_stride[i] = s;
    s *= in_shape[i];
  }
  Index base = 0;
  for (size_t o = 0; o < rank; ++o) {
    const Index st = in_stride[m.axis[o]];
    if (m.rev[o]) {
      base += (out_shape[o] - 1) * st;
      step[o] = -st;
    } else {
      step[o] = st;
    }
  }
  const Index row = out_shape[rank - 1];
  if (row == 0) return;
  for (size_t i = 0; i < rank; ++i) {
    if (out_shape[i] == 0) return;
  }
  Shape idx(rank, 0);
  Index out_offset = 0, in_offset = base;
  while (true) {
    f(in_offset, out_offset, row, step[rank - 1]);
    out_offset += row;
    size_t i = rank - 1;
    while (true) {
      if (i == 0) return;
      --i;
      in_offset += step[i];
      if (++idx[i] < out_shape[i]) break;
      in_offset -= step[i] * out_shape[i];
      idx[i] = 0;
    }
  }
}

}  // namespace

void CheckValueMap(DataType from, const ValueMap& map, const std::string& what) {
  const std::string pair =
      std::string(DataTypeName(from)) + " to " + std::string(DataTypeName(map.dtype));
  if (map.affine) {
    if (map.dtype != DataType::kFloat32 && map.dtype != DataType::kFloat64) {
      throw InvalidArgument(what +
                            ": normalization and intensity jitter need a float32 or "
                            "float64 dtype, not " +
                            std::string(DataTypeName(map.dtype)));
    }
    if (!std::isfinite(map.scale) || !std::isfinite(map.shift)) {
      throw InvalidArgument(what + ": the intensity map is not finite");
    }
  }
  if (from == map.dtype && !map.affine) return;
  if (from == DataType::kFloat16 || map.dtype == DataType::kFloat16) {
    throw Unsupported(what + ": converting " + pair + " is not supported (float16)");
  }
  if (map.dtype == DataType::kBool && from != DataType::kBool) {
    throw InvalidArgument(what + ": cannot convert " + pair);
  }
  if (IsFloat(from) && IsIntegral(map.dtype)) {
    throw InvalidArgument(what + ": cannot convert " + pair + " (float to integer)");
  }
}

Array TransformWindow(const Array& in, const Augmentation& aug, const ValueMap& map,
                      const std::string& what) {
  const size_t rank = in.rank();
  if (aug.flip.size() > rank || (aug.rot90 % 4 != 0 && aug.flip.size() < 2)) {
    throw Internal(what + ": augmentation of rank " + std::to_string(aug.flip.size()) +
                   " for a window of rank " + std::to_string(rank));
  }
  CheckValueMap(in.dtype(), map, what);
  const AxisMap m = MapAxes(rank, aug);
  Shape out_shape(rank);
  for (size_t o = 0; o < rank; ++o) out_shape[o] = in.shape()[m.axis[o]];
  Array out = Array::Uninitialized(map.dtype, out_shape);
  bool identity = true;
  for (size_t o = 0; o < rank; ++o) identity = identity && m.axis[o] == o && !m.rev[o];

  if (in.dtype() == map.dtype && !map.affine) {
    if (identity) {
      std::memcpy(out.data(), in.data(), in.num_bytes());
      return out;
    }
    auto move = [&](auto tag) {
      using T = decltype(tag);
      const T* src = reinterpret_cast<const T*>(in.data());
      T* dst = reinterpret_cast<T*>(out.data());
      ForEachOutputRow(in.shape(), out_shape, m, [&](Index io, Index oo, Index n, Index st) {
        for (Index j = 0; j < n; ++j) dst[oo + j] = src[io + j * st];
      });
    };
    switch (in.element_size()) {
      case 1:
        move(Raw<1>::T{});
        break;
      case 2:
        move(Raw<2>::T{});
        break;
      case 4:
        move(Raw<4>::T{});
        break;
      case 8:
        move(Raw<8>::T{});
        break;
      default:
        throw Internal(what + ": unexpected element size");
    }
    return out;
  }

  VisitDataType(in.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    VisitDataType(map.dtype, [&](auto out_tag) {
      using Out = decltype(out_tag);
      if constexpr (std::is_same_v<In, Float16> || std::is_same_v<Out, Float16>) {
        throw Internal(what + ": float16 conversion");
      } else {
        const In* src = in.data_as<In>();
        Out* dst = out.data_as<Out>();
        if constexpr (std::is_floating_point_v<Out>) {
          if (map.affine) {
            const Out a = static_cast<Out>(map.scale), b = static_cast<Out>(map.shift);
            ForEachOutputRow(in.shape(), out_shape, m, [&](Index io, Index oo, Index n, Index st) {
              for (Index j = 0; j < n; ++j) {
                dst[oo + j] = static_cast<Out>(src[io + j * st]) * a + b;
              }
            });
            return;
          }
          ForEachOutputRow(in.shape(), out_shape, m, [&](Index io, Index oo, Index n, Index st) {
            for (Index j = 0; j < n; ++j) dst[oo + j] = static_cast<Out>(src[io + j * st]);
          });
        } else if constexpr (std::is_same_v<Out, bool> || std::is_same_v<In, bool> ||
                             std::is_floating_point_v<In>) {
          // bool <- bool is a plain move (handled above); bool -> integer is 0/1.
          if constexpr (std::is_same_v<In, bool> && !std::is_same_v<Out, bool>) {
            ForEachOutputRow(in.shape(), out_shape, m, [&](Index io, Index oo, Index n, Index st) {
              for (Index j = 0; j < n; ++j) dst[oo + j] = src[io + j * st];
            });
          } else {
            throw Internal(what + ": conversion not allowed");
          }
        } else {
          ForEachOutputRow(in.shape(), out_shape, m, [&](Index io, Index oo, Index n, Index st) {
            for (Index j = 0; j < n; ++j) {
              const In v = src[io + j * st];
              if (!Fits<Out>(v)) OutOfRange<Out>(v, what, map.dtype);
              dst[oo + j] = static_cast<Out>(v);
            }
          });
        }
      }
    });
  });
  return out;
}

}  // namespace volbatch
