#include "volbatch/tile/padding.h"

#include <algorithm>
#include <cstring>

#include "volbatch/core/error.h"

namespace volbatch {

PaddingMode ParsePaddingMode(const std::string& name) {
  if (name == "reflect") return PaddingMode::kReflect;
  if (name == "edge") return PaddingMode::kEdge;
  if (name == "constant") return PaddingMode::kConstant;
  throw InvalidArgument("[tiling] padding: \"" + name + "\" is not one of reflect, edge, constant");
}

const char* PaddingModeName(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::kReflect:
      return "reflect";
    case PaddingMode::kEdge:
      return "edge";
    case PaddingMode::kConstant:
      return "constant";
  }
  return "reflect";
}

Index PaddedSourceIndex(Index i, Index n, PaddingMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PaddingMode::kConstant:
      return -1;
    case PaddingMode::kEdge:
      return i < 0 ? 0 : n - 1;
    case PaddingMode::kReflect: {
      const Index period = 2 * n;
      Index m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - 1 - m;
    }
  }
  return -1;
}

Box PaddingSource(const Box& want, const Shape& volume, PaddingMode mode) {
  Box src(Shape(want.rank()), Shape(want.rank()));
  for (size_t a = 0; a < want.rank(); ++a) {
    const Index n = volume[a];
    Index lo = n, hi = -1;
    if (want.shape[a] > 0 && n > 0) {
      // The inside part, plus the reflected or clamped images of the parts outside.
      const Index b = want.begin[a], e = want.end(a);
      if (b < n && e > 0) {
        lo = std::max<Index>(b, 0);
        hi = std::min(e, n) - 1;
      }
      if (mode != PaddingMode::kConstant) {
        if (b < 0) {
          for (Index i : {b, std::min<Index>(e, 0) - 1}) {
            const Index s = PaddedSourceIndex(i, n, mode);
            lo = std::min(lo, s);
            hi = std::max(hi, s);
          }
          if (mode == PaddingMode::kReflect && -b > n) lo = 0, hi = n - 1;
        }
        if (e > n) {
          for (Index i : {std::max<Index>(b, n), e - 1}) {
            const Index s = PaddedSourceIndex(i, n, mode);
            lo = std::min(lo, s);
            hi = std::max(hi, s);
          }
          if (mode == PaddingMode::kReflect && e - n > n) lo = 0, hi = n - 1;
        }
      }
    }
    if (hi < lo) {
      src.begin[a] = std::clamp<Index>(want.begin[a], 0, n);
      src.shape[a] = 0;
    } else {
      src.begin[a] = lo;
      src.shape[a] = hi - lo + 1;
    }
  }
  return src;
}

namespace {

// The fill element for constant padding, in the array's type.
Array FillElement(DataType dtype, const Padding& padding) {
  Array one(dtype, Shape{1});
  VisitDataType(dtype, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_arithmetic_v<T>) *one.data_as<T>() = static_cast<T>(padding.value);
  });
  return one;
}

}  // namespace

Array Pad(const Array& source, const Box& source_box, const Box& want, const Shape& volume,
          const Padding& padding) {
  const size_t spatial = want.rank();
  if (source.rank() < spatial || source_box.rank() != spatial || volume.size() != spatial) {
    throw Internal("Pad: ranks of source, boxes and volume disagree");
  }
  const size_t lead = source.rank() - spatial;
  Shape out_shape(source.shape().begin(), source.shape().begin() + static_cast<long>(lead));
  out_shape.insert(out_shape.end(), want.shape.begin(), want.shape.end());
  const size_t es = source.element_size();

  const Array fill_one = FillElement(source.dtype(), padding);
  // Only constant padding leaves elements unwritten below.
  Array out = padding.mode == PaddingMode::kConstant
                  ? Array::Filled(source.dtype(), out_shape, fill_one.bytes())
                  : Array::Uninitialized(source.dtype(), out_shape);
  if (out.num_elements() == 0) return out;

  // Per axis: for each output position, the source-local index (or -1: constant).
  const size_t rank = out_shape.size();
  std::vector<std::vector<Index>> map(rank);
  for (size_t a = 0; a < rank; ++a) {
    map[a].resize(static_cast<size_t>(out_shape[a]));
    for (Index j = 0; j < out_shape[a]; ++j) {
      if (a < lead) {
        map[a][static_cast<size_t>(j)] = j;
        continue;
      }
      const size_t s = a - lead;
      const Index g = PaddedSourceIndex(want.begin[s] + j, volume[s], padding.mode);
      Index local = g < 0 ? -1 : g - source_box.begin[s];
      if (g >= 0 && (local < 0 || local >= source_box.shape[s])) {
        throw Internal("Pad: source box " + source_box.ToString() + " misses voxel " +
                       std::to_string(g) + " on axis " + std::to_string(s));
      }
      map[a][static_cast<size_t>(j)] = local;
    }
  }
  // Strides of source and out (elements).
  std::vector<Index> sstride(rank, 1), ostride(rank, 1);
  for (size_t a = rank - 1; a-- > 0;) {
    sstride[a] = sstride[a + 1] * source.shape()[a + 1];
    ostride[a] = ostride[a + 1] * out_shape[a + 1];
  }
  const std::byte* src = source.data();
  std::byte* dst = out.data();
  const auto& inner = map[rank - 1];
  const Index row_len = out_shape[rank - 1];
  // Walk every output row (all axes but the last).
  Shape idx(rank, 0);
  const Index rows = out.num_elements() / row_len;
  for (Index r = 0; r < rows; ++r) {
    Index soff = 0;
    bool constant = false;
    for (size_t a = 0; a + 1 < rank; ++a) {
      const Index m = map[a][static_cast<size_t>(idx[a])];
      if (m < 0) {
        constant = true;
        break;
      }
      soff += m * sstride[a];
    }
    std::byte* drow = dst + static_cast<size_t>(r * row_len) * es;
    if (!constant) {
      // Runs of consecutive source indices are copied with one memcpy.
      Index j = 0;
      while (j < row_len) {
        const Index m = inner[static_cast<size_t>(j)];
        if (m < 0) {
          ++j;
          continue;
        }
        Index k = j + 1;
        while (k < row_len && inner[static_cast<size_t>(k)] == m + (k - j)) ++k;
        std::memcpy(drow + static_cast<size_t>(j) * es, src + static_cast<size_t>(soff + m) * es,
                    static_cast<size_t>(k - j) * es);
        j = k;
      }
    }
    for (size_t a = rank - 1; a-- > 0;) {
      if (++idx[a] < out_shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

bool PadInPlace(Array& a, const Box& box, const Box& source, const Shape& volume,
                const Padding& padding) {
  const size_t spatial = box.rank();
  if (a.rank() < spatial || source.rank() != spatial || volume.size() != spatial) {
    throw Internal("PadInPlace: ranks of array, boxes and volume disagree");
  }
  const size_t lead = a.rank() - spatial;
  for (size_t s = 0; s < spatial; ++s) {
    if (a.shape()[lead + s] != box.shape[s]) throw Internal("PadInPlace: array is not `box`");
    if (source.shape[s] > 0 && (source.begin[s] < box.begin[s] || source.end(s) > box.end(s))) {
      return false;
    }
  }
  const size_t es = a.element_size();
  const Array fill_one = FillElement(a.dtype(), padding);
  std::byte* base = a.data();
  // Axis by axis: after axis s, every voxel whose later coordinates lie in the source is
  // right, so the planes copied for axis s + 1 carry correct values for all earlier axes.
  for (size_t s = 0; s < spatial; ++s) {
    const size_t ax = lead + s;
    const Index outer = NumElements(Shape(a.shape().begin(), a.shape().begin() + ax), "outer");
    const Index n = a.shape()[ax];
    const Index inner = NumElements(Shape(a.shape().begin() + ax + 1, a.shape().end()), "inner");
    const size_t plane = static_cast<size_t>(inner) * es;
    for (Index j = 0; j < n; ++j) {
      const Index g = box.begin[s] + j;
      if (source.shape[s] > 0 && g >= source.begin[s] && g < source.end(s)) continue;
      const Index m = PaddedSourceIndex(g, volume[s], padding.mode);
      for (Index o = 0; o < outer; ++o) {
        std::byte* dst = base + static_cast<size_t>(o * n + j) * plane;
        if (m < 0) {
          for (Index k = 0; k < inner; ++k) std::memcpy(dst + k * es, fill_one.data(), es);
        } else {
          std::memcpy(dst, base + static_cast<size_t>(o * n + (m - box.begin[s])) * plane, plane);
        }
      }
    }
  }
  return true;
}

}  // namespace volbatch
