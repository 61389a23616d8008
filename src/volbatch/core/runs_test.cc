#include "volbatch/core/runs.h"

#include <gtest/gtest.h>

#include <random>

namespace volbatch {
namespace {

Index Linear(const Shape& shape, const Shape& at) {
  Index off = 0;
  for (size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + at[i];
  return off;
}

// Every element of the box, visited once in C order, maps to its offsets in both arrays; runs
// are merged exactly where both arrays hold the trailing axes whole.
TEST(ForEachRun, VisitsEachElementOnceInCOrderAtItsOffsets) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t rank = 1 + rng() % 4;
    Shape a(rank), b(rank), ao(rank), bo(rank), extent(rank);
    for (size_t i = 0; i < rank; ++i) {
      extent[i] = 1 + rng() % 5;
      ao[i] = rng() % 2 ? 0 : rng() % 3;
      bo[i] = rng() % 2 ? 0 : rng() % 3;
      a[i] = ao[i] + extent[i] + (rng() % 2 ? 0 : rng() % 3);
      b[i] = bo[i] + extent[i] + (rng() % 2 ? 0 : rng() % 3);
    }
    std::vector<std::pair<Index, Index>> got;
    size_t calls = 0;
    ForEachRun(a, ao, b, bo, extent, [&](Index ai, Index bi, Index n) {
      ++calls;
      for (Index k = 0; k < n; ++k) got.emplace_back(ai + k, bi + k);
    });
    std::vector<std::pair<Index, Index>> want;
    Shape idx(rank, 0);
    for (Index e = 0; e < NumElements(extent); ++e) {
      Shape pa(rank), pb(rank);
      for (size_t i = 0; i < rank; ++i) {
        pa[i] = ao[i] + idx[i];
        pb[i] = bo[i] + idx[i];
      }
      want.emplace_back(Linear(a, pa), Linear(b, pb));
      for (size_t i = rank; i-- > 0;) {
        if (++idx[i] < extent[i]) break;
        idx[i] = 0;
      }
    }
    ASSERT_EQ(got, want) << "trial " << trial;
    EXPECT_LE(calls, static_cast<size_t>(NumElements(extent) / extent[rank - 1]));
  }
}

TEST(ForEachRun, WholeArraysAreOneRunAndEmptyBoxesNone) {
  int calls = 0;
  ForEachRun({4, 5, 6}, {0, 0, 0}, {4, 5, 6}, {0, 0, 0}, {4, 5, 6}, [&](Index a, Index b, Index n) {
    ++calls;
    EXPECT_EQ(a, 0);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(n, 120);
  });
  EXPECT_EQ(calls, 1);
  ForEachRun({4, 5}, {0, 0}, {4, 5}, {0, 0}, {0, 5}, [&](Index, Index, Index) { ++calls; });
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace volbatch
