// Whole-input statistics (DESIGN invariant 4): computed once per job over the entire input
// and stored in the job directory, never per window, so that every window normalises alike.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "volbatch/store/dataset.h"

namespace volbatch {

// Percentiles (0..100, numpy's default "linear" interpolation) of every voxel of `input`.
// Integer data of at most 16 bits is counted exactly with a histogram; wider types use a
// deterministic sample of at most `max_samples` voxels spread over every storage unit.
std::vector<double> ComputePercentiles(const Dataset& input, const std::vector<double>& q,
                                       size_t max_samples = size_t{1} << 24);

// Answers an operator's StatisticsRequest() ({"percentiles": [..]}) with the request plus
// "values".
nlohmann::json ComputeStatistics(const Dataset& input, const nlohmann::json& request);

}  // namespace volbatch
