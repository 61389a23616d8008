// Shared shape of the pointwise built-ins: no context, no scale, output box == input box.
#pragma once

#include "volbatch/ops/operator.h"

namespace volbatch {

class PointwiseOperator : public Operator {
 public:
  using Operator::Operator;
  Shape Context() const override { return Shape(spatial_rank(), 0); }
  // A window of 64^3 for pointwise work would only add per-window overhead; larger windows
  // amortise it (the block still bounds memory).
  Shape DefaultWindow() const override { return Shape(spatial_rank(), 128); }
};

}  // namespace volbatch
