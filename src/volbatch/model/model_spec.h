// ModelSpec: the [operator] table of a `torch` job, resolved (and completed from a
// bioimage.io-style rdf.yaml beside the model file, when there is one), before any LibTorch
// code runs. It fixes the window geometry:
//   window         model input, input space (z, y, x)
//   output_window  model output, output space (default: window * scale, a "same" model)
//   crop           output voxels dropped on each side of the model's output (the rdf "halo":
//                  where the model saw too little context to be trusted)
//   effective      output_window - 2 * crop: the window on the engine's lattice
//   context        input voxels each side beyond effective / scale: (window - effective /
//                  scale) / 2, which must be a whole number
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "volbatch/ops/operator.h"

namespace volbatch {

struct ModelSpec {
  std::string model;  // the TorchScript file
  std::string rdf;    // the rdf.yaml used, or ""
  Shape window, output_window, crop, effective, context;
  Scale scale;
  std::string device = "cpu";         // cpu | cuda | cuda:N | auto
  std::string precision = "float32";  // float32 | float16 | bfloat16
  Index batch = 8;
  // Input normalisation, x' = (x - lo) / (hi - lo): "none", "range" or "percentiles".
  std::string normalize = "none";
  std::vector<double> normalize_values;  // the range, or the percentiles asked for
  // Output: "raw" (channels as they are), "softmax" (per window, before blending) or "argmax"
  // (labels, after blending).
  std::string output = "raw";
  std::vector<Index> channels;                      // selected output channels (empty: all)
  std::optional<std::vector<double>> output_range;  // y' = lo + y * (hi - lo)
  bool denormalize = false;                         // output_range = the normalisation range
  // Test-time augmentation: "none", or "flips" (every window predicted for each flip of
  // tta_axes, flipped back and averaged before anything else; see tta.h).
  std::string tta = "none";
  std::vector<size_t> tta_axes;  // spatial axes, ascending (default: those longer than 1)

  nlohmann::json ToJson() const;
};

// The names of the spatial axes of a rank-`rank` volume: the last `rank` of z, y, x ("0", "1",
// ... beyond rank 3).
std::vector<std::string> AxisNames(size_t rank);

// Reads every key of a torch [operator] table (and the rdf.yaml, if any). Throws
// InvalidArgument naming "[operator] key" or the rdf file and field.
ModelSpec ParseModelSpec(OperatorParams& params);

}  // namespace volbatch
