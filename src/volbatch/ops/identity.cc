// identity: the input as it is (converted to the output type by the engine). Useful to
// re-chunk or re-compress through the engine and to test the tiling machinery itself.
#include "volbatch/ops/pointwise.h"

namespace volbatch {
namespace {

class Identity : public PointwiseOperator {
 public:
  using PointwiseOperator::PointwiseOperator;
  std::string name() const override { return "identity"; }
  nlohmann::json Parameters() const override { return {{"type", "identity"}}; }
  DataType ComputeDType(DataType input) const override { return input; }
  Array Compute(const Array& input, const WindowInfo&) const override { return input; }
};

}  // namespace

void RegisterIdentityOperator() {
  RegisterOperator("identity",
                   [](OperatorParams& p) { return std::make_unique<Identity>(p.spatial_rank()); });
}

}  // namespace volbatch
