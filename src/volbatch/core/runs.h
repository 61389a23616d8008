// The runs of a box: the stretches of elements that lie contiguous both where a box is in one
// C-order array and where it goes in another. Copies, gathers and scattered reads walk them.
#pragma once

#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

// Calls f(a_offset, b_offset, elements) for each run, in C order, of the box of `extent` at
// `a_origin` in a C-order array of `a_shape` and at `b_origin` in one of `b_shape` (offsets in
// elements from each array's start). Trailing axes that both arrays hold whole are one run.
// Nothing is called for an empty box.
template <typename F>
void ForEachRun(const Shape& a_shape, const Shape& a_origin, const Shape& b_shape,
                const Shape& b_origin, const Shape& extent, F&& f) {
  const size_t rank = extent.size();
  if (rank == 0) {
    f(Index{0}, Index{0}, Index{1});
    return;
  }
  for (Index e : extent) {
    if (e <= 0) return;
  }
  size_t inner = rank - 1;
  Index run = extent[inner];
  while (inner > 0 && extent[inner] == a_shape[inner] && extent[inner] == b_shape[inner] &&
         a_origin[inner] == 0 && b_origin[inner] == 0) {
    --inner;
    run *= extent[inner];
  }
  std::vector<Index> as(rank), bs(rank);  // strides in elements
  Index sa = 1, sb = 1;
  for (size_t i = rank; i-- > 0;) {
    as[i] = sa;
    bs[i] = sb;
    sa *= a_shape[i];
    sb *= b_shape[i];
  }
  Index a_off = 0, b_off = 0;
  for (size_t i = 0; i < rank; ++i) {
    a_off += a_origin[i] * as[i];
    b_off += b_origin[i] * bs[i];
  }
  std::vector<Index> idx(inner, 0);
  while (true) {
    Index ao = a_off, bo = b_off;
    for (size_t i = 0; i < inner; ++i) {
      ao += idx[i] * as[i];
      bo += idx[i] * bs[i];
    }
    f(ao, bo, run);
    size_t i = inner;
    while (true) {
      if (i == 0) return;
      --i;
      if (++idx[i] < extent[i]) break;
      idx[i] = 0;
    }
  }
}

}  // namespace volbatch
