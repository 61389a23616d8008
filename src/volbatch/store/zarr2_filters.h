// The array filters of a Zarr v2 "filters" list are numcodecs' filters, which the codec layer
// implements once for Zarr v2 and for Zarr v3's numcodecs.* codecs (codec/numcodecs_filters.h).
#pragma once

#include "volbatch/codec/numcodecs_filters.h"
