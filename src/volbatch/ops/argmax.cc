// argmax: the index of the largest channel at each voxel (labels from class scores); the first
// channel wins ties. The input must have a channel axis; the output has none.
#include "volbatch/core/error.h"
#include "volbatch/ops/pointwise.h"

namespace volbatch {
namespace {

class Argmax : public PointwiseOperator {
 public:
  using PointwiseOperator::PointwiseOperator;
  std::string name() const override { return "argmax"; }
  nlohmann::json Parameters() const override { return {{"type", "argmax"}}; }
  Index OutputChannels(Index input_channels) const override {
    if (input_channels < 1) {
      throw InvalidArgument(
          "[operator] type: argmax needs an input with a channel axis (set [input] channels = "
          "true for a (c, z, y, x) dataset)");
    }
    return 0;
  }
  DataType ComputeDType(DataType) const override { return DataType::kUint32; }
  void CheckOutputDType(DataType input, DataType output) const override {
    Operator::CheckOutputDType(input, output);
    if (IsFloat(output) || output == DataType::kBool) {
      throw InvalidArgument("argmax writes labels: use an integer type such as uint8 or uint16");
    }
  }
  Array Compute(const Array& input, const WindowInfo&) const override {
    Shape spatial(input.shape().begin() + 1, input.shape().end());
    Array out = Array::Uninitialized(DataType::kUint32, spatial);
    const Index channels = input.shape()[0];
    const size_t n = static_cast<size_t>(out.num_elements());
    uint32_t* o = out.data_as<uint32_t>();
    VisitDataType(input.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_arithmetic_v<T>) {
        const T* p = input.data_as<T>();
        std::vector<T> best(p, p + n);
        std::fill(o, o + n, 0u);
        for (Index c = 1; c < channels; ++c) {
          const T* q = p + static_cast<size_t>(c) * n;
          for (size_t i = 0; i < n; ++i) {
            if (q[i] > best[i]) {
              best[i] = q[i];
              o[i] = static_cast<uint32_t>(c);
            }
          }
        }
      } else {
        throw Unsupported("argmax: float16 input is not supported");
      }
    });
    return out;
  }
};

}  // namespace

void RegisterArgmaxOperator() {
  RegisterOperator("argmax",
                   [](OperatorParams& p) { return std::make_unique<Argmax>(p.spatial_rank()); });
}

}  // namespace volbatch
