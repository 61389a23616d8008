// TransformWindow: a window as read (C order, optional leading channel axes) to the window the
// sampler delivers, in one pass: the augmentation's flips and 90-degree rotation (the same for
// every aligned source), and the values mapped to the output dtype — for images an affine map
// (normalisation to [0, 1] and intensity jitter), for labels and masks a range-checked cast.
#pragma once

#include <string>

#include "volbatch/core/array.h"
#include "volbatch/tile/window_sampler.h"

namespace volbatch {

struct ValueMap {
  DataType dtype = DataType::kUint8;  // of the result
  bool affine = false;                // value * scale + shift (a float32/float64 result only)
  double scale = 1;
  double shift = 0;
};

// The last aug.flip.size() axes of `in` are spatial. Throws InvalidArgument naming `what` (the
// source) for a value that does not fit the output dtype, or a conversion that is not allowed
// (float to integer, anything to bool but bool, affine to a non-float dtype).
Array TransformWindow(const Array& in, const Augmentation& aug, const ValueMap& map,
                      const std::string& what);

// Checks that `map` can be applied to `from` (the same rules, without data).
void CheckValueMap(DataType from, const ValueMap& map, const std::string& what);

}  // namespace volbatch
