// Zarr v2 "dtype" strings are numpy type strings, which the codec layer parses for numcodecs'
// filters as well (codec/numpy_dtype.h).
#pragma once

#include "volbatch/codec/numpy_dtype.h"
