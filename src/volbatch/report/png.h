// PNG encoding of 8-bit grayscale images (libpng's simplified API), for the report's slice
// previews. A 512 x 512 preview is ~100-250 KB and encodes in a few milliseconds.
#pragma once

#include <cstdint>
#include <vector>

#include "volbatch/core/bytes.h"

namespace volbatch {

// `pixels` row-major, width * height bytes. Throws Internal if libpng fails.
Bytes EncodeGrayPng(const std::vector<uint8_t>& pixels, int width, int height);

// Width and height from a PNG's IHDR (for tests and checks); InvalidArgument if not a PNG.
std::pair<int, int> PngSize(const Bytes& png);

}  // namespace volbatch
