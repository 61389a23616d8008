#include "volbatch/engine/statistics.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

namespace {

// numpy.percentile(method="linear") on sorted data given as a lookup by rank.
template <typename At>
double Linear(double q, uint64_t n, At at) {
  const double pos = q / 100.0 * static_cast<double>(n - 1);
  const uint64_t lo = static_cast<uint64_t>(std::floor(pos));
  const uint64_t hi = std::min(lo + 1, n - 1);
  const double frac = pos - static_cast<double>(lo);
  const double a = at(lo), b = at(hi);
  return a + (b - a) * frac;
}

}  // namespace

std::vector<double> ComputePercentiles(const Dataset& input, const std::vector<double>& q,
                                       size_t max_samples) {
  const ArrayLayout& l = input.layout();
  const Shape grid = input.UnitGrid();
  const Index units = NumElements(grid, "unit grid");
  const Index total = NumElements(l.shape, "input shape");
  if (total == 0) throw InvalidArgument(input.path() + ": empty input, no percentiles");
  auto unit_box = [&](Index u) {
    Box b(Shape(grid.size()), Shape(grid.size()));
    for (size_t i = grid.size(); i-- > 0;) {
      const Index p = u % grid[i];
      u /= grid[i];
      b.begin[i] = p * l.write_chunks[i];
      b.shape[i] = std::min(l.write_chunks[i], l.shape[i] - b.begin[i]);
    }
    return b;
  };
  const bool histogram = !IsFloat(l.dtype) && ByteSize(l.dtype) <= 2;
  std::vector<double> out;
  std::mutex mu;
  if (histogram) {
    const bool is_signed = IsSigned(l.dtype);
    const size_t bins = l.dtype == DataType::kBool ? 2 : (size_t{1} << (8 * ByteSize(l.dtype)));
    const int64_t offset = is_signed ? static_cast<int64_t>(bins / 2) : 0;
    std::vector<uint64_t> hist(bins, 0);
    ParallelFor(Index{0}, units, [&](Index u) {
      const Array a = input.Read(unit_box(u));
      std::vector<uint64_t> local(bins, 0);
      VisitDataType(l.dtype, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_integral_v<T>) {
          const T* p = a.data_as<T>();
          for (Index i = 0; i < a.num_elements(); ++i) {
            local[static_cast<size_t>(static_cast<int64_t>(p[i]) + offset)]++;
          }
        }
      });
      std::lock_guard<std::mutex> lock(mu);
      for (size_t b = 0; b < bins; ++b) hist[b] += local[b];
    });
    std::vector<uint64_t> cum(bins);
    uint64_t run = 0;
    for (size_t b = 0; b < bins; ++b) cum[b] = run += hist[b];
    auto at = [&](uint64_t rank) {
      const size_t b =
          static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), rank) - cum.begin());
      return static_cast<double>(static_cast<int64_t>(b) - offset);
    };
    for (double p : q) out.push_back(Linear(p, static_cast<uint64_t>(total), at));
    return out;
  }
  // Every stride-th voxel (in C order within each unit) of every unit, the same on every run.
  const Index stride = std::max<Index>(
      1, (total + static_cast<Index>(max_samples) - 1) / static_cast<Index>(max_samples));
  std::vector<std::vector<double>> parts(static_cast<size_t>(units));
  ParallelFor(Index{0}, units, [&](Index u) {
    const Array a = input.Read(unit_box(u));
    const std::vector<double> v = ToDoubles(a);
    auto& part = parts[static_cast<size_t>(u)];
    for (size_t i = 0; i < v.size(); i += static_cast<size_t>(stride)) {
      if (!std::isnan(v[i])) part.push_back(v[i]);
    }
  });
  std::vector<double> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  if (all.empty()) throw InvalidArgument(input.path() + ": every sampled voxel is NaN");
  std::sort(all.begin(), all.end());
  for (double p : q) {
    out.push_back(Linear(p, all.size(), [&](uint64_t i) { return all[static_cast<size_t>(i)]; }));
  }
  return out;
}

nlohmann::json ComputeStatistics(const Dataset& input, const nlohmann::json& request) {
  nlohmann::json out = request;
  if (request.contains("percentiles")) {
    out["values"] = ComputePercentiles(input, request.at("percentiles").get<std::vector<double>>());
  }
  return out;
}

}  // namespace volbatch
