// The report's parts: PNG encoding that libpng reads back, SVG charts with one element per
// data item, and the page of a real (small) job.
#include <gtest/gtest.h>
#include <png.h>

#include <cstring>

#include "volbatch/core/error.h"
#include "volbatch/report/png.h"
#include "volbatch/report/svg.h"

namespace volbatch {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Png, GrayImagesDecodeToTheSamePixels) {
  const int w = 37, h = 11;
  std::vector<uint8_t> px(w * h);
  for (int i = 0; i < w * h; ++i) px[i] = static_cast<uint8_t>(i * 7);
  const Bytes png = EncodeGrayPng(px, w, h);
  EXPECT_EQ(PngSize(png), std::make_pair(w, h));
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()));
  image.format = PNG_FORMAT_GRAY;
  std::vector<uint8_t> back(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, back.data(), 0, nullptr));
  EXPECT_EQ(back, px);
  EXPECT_THROW(EncodeGrayPng(px, w + 1, h), Error);
  EXPECT_THROW(PngSize(Bytes(30, std::byte{0})), Error);
}

TEST(Svg, ChartsHaveAnElementPerItem) {
  const std::string line = SvgLineChart({0, 1, 2, 3}, {5, 7, 6, 9}, "s", "Mvox/s");
  EXPECT_EQ(Count(line, "<svg"), 1u);
  EXPECT_EQ(Count(line, "<polyline"), 1u);
  const std::string bars = SvgStackedBars(
      {"worker-0000", "worker-0001", "w<2>"},
      {{"done", "#0f0", {3, 4, 0}}, {"failed", "#f00", {1, 0, 0}}}, "blocks");
  EXPECT_EQ(Count(bars, "class=\"bar\""), 3u);  // zero-length bars are not drawn
  EXPECT_NE(bars.find("w&lt;2&gt;"), std::string::npos);
  const std::string map = SvgBlockMap(
      {2, 3, 4}, std::vector<BlockState>(24, BlockState::kDone));
  EXPECT_EQ(Count(map, "class=\"block s1\""), 24u);
  std::vector<BlockState> mixed(24, BlockState::kPending);
  mixed[5] = BlockState::kFailed;
  const std::string m2 = SvgBlockMap({2, 3, 4}, mixed);
  EXPECT_EQ(Count(m2, "class=\"block s2\""), 1u);
  EXPECT_EQ(Count(m2, "class=\"block s0\""), 23u);
}

}  // namespace
}  // namespace volbatch
