// Scale: how the output grid relates to the input grid along each spatial axis. Every axis is
// an integer up-factor (super-resolution: output = input * up) or down-factor (downsampling:
// output = ceil(input / down)); one of the two is 1. Output voxel o covers the input interval
// [o * down / up, (o + 1) * down / up).
#pragma once

#include <string>

#include "volbatch/core/box.h"

namespace volbatch {

struct Scale {
  Shape up;    // per spatial axis, >= 1
  Shape down;  // per spatial axis, >= 1; up[i] == 1 || down[i] == 1

  static Scale Identity(size_t rank);
  // Throws InvalidArgument naming `what` unless every axis is a valid pair of the same rank.
  void Check(std::string_view what) const;
  size_t rank() const { return up.size(); }
  bool IsIdentity() const;
  // ceil(input * up / down) per axis.
  Shape OutputShape(const Shape& input) const;
  // The input voxels an output box reads (before any context): begin floored, end ceiled.
  Box InputBox(const Box& output) const;
  // "[1, 2, 2]" for up-only scales, "[1, 1/2, 1/2]" otherwise.
  std::string ToString() const;
  friend bool operator==(const Scale&, const Scale&) = default;
};

}  // namespace volbatch
