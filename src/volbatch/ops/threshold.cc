// threshold: 1 where the input is greater than `value`, else 0 (uint8), per channel.
#include "volbatch/core/error.h"
#include "volbatch/ops/pointwise.h"

namespace volbatch {
namespace {

class Threshold : public PointwiseOperator {
 public:
  Threshold(size_t rank, double value) : PointwiseOperator(rank), value_(value) {}
  std::string name() const override { return "threshold"; }
  nlohmann::json Parameters() const override { return {{"type", "threshold"}, {"value", value_}}; }
  DataType ComputeDType(DataType) const override { return DataType::kUint8; }
  Array Compute(const Array& input, const WindowInfo&) const override {
    Array out = Array::Uninitialized(DataType::kUint8, input.shape());
    uint8_t* o = out.data_as<uint8_t>();
    const size_t n = static_cast<size_t>(input.num_elements());
    VisitDataType(input.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_arithmetic_v<T>) {
        const T* p = input.data_as<T>();
        const double v = value_;
        for (size_t i = 0; i < n; ++i) o[i] = static_cast<double>(p[i]) > v ? 1 : 0;
      } else {
        throw Unsupported("threshold: float16 input is not supported");
      }
    });
    return out;
  }

 private:
  double value_;
};

}  // namespace

void RegisterThresholdOperator() {
  RegisterOperator("threshold", [](OperatorParams& p) {
    return std::make_unique<Threshold>(p.spatial_rank(), p.Number("value"));
  });
}

}  // namespace volbatch
