// cast: linear intensity normalisation to the output type. [lo, hi] (a fixed `range`, or the
// whole input's `percentiles`, computed once per job by the engine — never per window, so
// windows agree) maps to [0, max] of an integer output type or [0, 1] of a float one, clipped.
#include <cmath>
#include <limits>

#include "volbatch/core/error.h"
#include "volbatch/ops/pointwise.h"

namespace volbatch {
namespace {

class Cast : public PointwiseOperator {
 public:
  Cast(size_t rank, std::vector<double> range, std::vector<double> percentiles)
      : PointwiseOperator(rank), range_(std::move(range)), percentiles_(std::move(percentiles)) {}
  std::string name() const override { return "cast"; }
  nlohmann::json Parameters() const override {
    nlohmann::json j = {{"type", "cast"}};
    if (!percentiles_.empty()) j["percentiles"] = percentiles_;
    if (!range_.empty() && percentiles_.empty()) j["range"] = range_;
    return j;
  }
  DataType ComputeDType(DataType) const override { return out_; }
  void SetOutputDType(DataType output) override { out_ = output; }
  void CheckOutputDType(DataType input, DataType output) const override {
    Operator::CheckOutputDType(input, output);
    if (output == DataType::kBool) throw InvalidArgument("cast cannot normalise to bool");
  }
  nlohmann::json StatisticsRequest() const override {
    if (percentiles_.empty()) return nullptr;
    return {{"percentiles", percentiles_}};
  }
  void SetStatistics(const nlohmann::json& s) override {
    if (percentiles_.empty()) return;
    range_ = s.at("values").get<std::vector<double>>();
  }
  Array Compute(const Array& input, const WindowInfo&) const override {
    if (range_.size() != 2) throw Internal("cast: percentiles were not computed");
    const double lo = range_[0], hi = range_[1];
    const double span = hi > lo ? hi - lo : 1;
    const std::vector<double> x = ToDoubles(input);
    Array out = Array::Uninitialized(out_, input.shape());
    VisitDataType(out_, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_arithmetic_v<T>) {
        T* o = out.data_as<T>();
        const double top = IsFloat(out_) ? 1.0 : static_cast<double>(std::numeric_limits<T>::max());
        for (size_t i = 0; i < x.size(); ++i) {
          double v = (x[i] - lo) / span;
          v = std::isnan(v) ? 0 : std::min(1.0, std::max(0.0, v));
          o[i] = static_cast<T>(IsFloat(out_) ? v * top : std::nearbyint(v * top));
        }
      }
    });
    return out;
  }

 private:
  std::vector<double> range_, percentiles_;
  DataType out_ = DataType::kFloat32;
};

std::vector<double> Pair(OperatorParams& p, const std::string& key) {
  const nlohmann::json* v = p.Raw(key);
  if (!v) return {};
  if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number() || !(*v)[1].is_number()) {
    throw InvalidArgument("[operator] " + key + ": must be two numbers [lo, hi], not " + v->dump());
  }
  std::vector<double> r = {(*v)[0].get<double>(), (*v)[1].get<double>()};
  if (!(r[0] < r[1])) {
    throw InvalidArgument("[operator] " + key + ": lo must be smaller than hi, got " + v->dump());
  }
  return r;
}

}  // namespace

void RegisterCastOperator() {
  RegisterOperator("cast", [](OperatorParams& p) {
    std::vector<double> range = Pair(p, "range");
    std::vector<double> pct = Pair(p, "percentiles");
    if (range.empty() == pct.empty()) {
      throw InvalidArgument(
          "[operator] range: cast needs exactly one of range = [lo, hi] or "
          "percentiles = [lo, hi]");
    }
    for (double q : pct) {
      if (q < 0 || q > 100) {
        throw InvalidArgument("[operator] percentiles: must lie in [0, 100]");
      }
    }
    return std::make_unique<Cast>(p.spatial_rank(), range, pct);
  });
}

}  // namespace volbatch
