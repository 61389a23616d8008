#include "volbatch/report/png.h"

#include <png.h>

#include <cstring>
#include <string>

#include "volbatch/core/error.h"

namespace volbatch {

Bytes EncodeGrayPng(const std::vector<uint8_t>& pixels, int width, int height) {
  if (width <= 0 || height <= 0 ||
      pixels.size() != static_cast<size_t>(width) * static_cast<size_t>(height)) {
    throw Internal("EncodeGrayPng: " + std::to_string(pixels.size()) + " pixels for " +
                   std::to_string(width) + " x " + std::to_string(height));
  }
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr)) {
    throw Internal(std::string("libpng: ") + image.message);
  }
  Bytes out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr)) {
    throw Internal(std::string("libpng: ") + image.message);
  }
  out.resize(size);
  return out;
}

std::pair<int, int> PngSize(const Bytes& png) {
  static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (png.size() < 24 || std::memcmp(png.data(), kSignature, 8) != 0 ||
      std::memcmp(png.data() + 12, "IHDR", 4) != 0) {
    throw InvalidArgument("not a PNG image");
  }
  auto be32 = [&](size_t at) {
    return static_cast<int>(std::to_integer<uint32_t>(png[at]) << 24 |
                            std::to_integer<uint32_t>(png[at + 1]) << 16 |
                            std::to_integer<uint32_t>(png[at + 2]) << 8 |
                            std::to_integer<uint32_t>(png[at + 3]));
  };
  return {be32(16), be32(20)};
}

}  // namespace volbatch
