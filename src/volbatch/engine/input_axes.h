// InputAxes: the roles of a job input's axes, from `[input] axes` ("tczyx") or from the
// OME-Zarr multiscales metadata of the input's group. Leading batch axes (any letters but c, z,
// y, x: time, position, sample, ...) each index an independent volume the operator runs over;
// then an optional channel axis `c`; then the spatial axes (z,) y, x, in that order, which the
// operator sees. The order is OME-NGFF's (t, c, z, y, x), so the spatial axes stay innermost and
// one batch index is a contiguous run of chunks.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "volbatch/core/box.h"

namespace volbatch {

struct InputAxes {
  std::string letters;  // "" when neither the job nor the input's metadata names them
  size_t batch = 0;     // leading batch axes
  bool channels = false;

  // The batch axes' extents: the first `batch` axes of `shape`.
  Shape BatchShape(const Shape& shape) const {
    return Shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(batch));
  }
};

// Checks `letters` against an input of `rank` axes; throws InvalidArgument naming `field`
// (length differing from the rank, a repeated letter, no y and x, a batch axis after the
// channel or spatial ones, spatial axes out of z, y, x order).
InputAxes ParseInputAxes(const std::string& letters, size_t rank, const std::string& field);

// The letters OME-NGFF multiscales metadata (0.4 "multiscales" or 0.5 "ome"."multiscales") of
// the group holding `dataset` gives its axes: type "channel" -> c, "space" -> its name (z, y, x),
// any other type -> a batch letter (the name's first letter when free, else another). None when
// the group says nothing about this dataset or says it in a form that is not axes.
std::optional<std::string> OmeAxesOf(const std::string& dataset);

// The job's axes: `[input] axes` if given (checked against `[input] channels`), else the OME
// metadata's, else none (the legacy `channels` flag alone). `source` prefixes messages.
InputAxes ResolveInputAxes(const std::string& axes, bool channels, const std::string& dataset,
                           size_t rank, const std::string& source);

}  // namespace volbatch
