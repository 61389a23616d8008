// The default ComputeBatch: windows are independent, so they run in parallel.

#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/ops/operator.h"

namespace volbatch {

std::vector<Array> Operator::ComputeBatch(const std::vector<Array>& inputs,
                                          const std::vector<WindowInfo>& infos) const {
  if (inputs.size() != infos.size()) throw Internal("ComputeBatch: inputs and infos differ");
  std::vector<Array> out(inputs.size());
  ParallelFor(size_t{0}, inputs.size(), [&](size_t i) { out[i] = Compute(inputs[i], infos[i]); });
  return out;
}

}  // namespace volbatch
