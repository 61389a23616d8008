// Partial decoding: a range of a blosc stream and a region of a chunk decoded alone equal the
// same part of a whole decode, and a stream that lies about its blocks is DataLoss.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using testing::Spec;

// A uint32 chunk of `shape` with values that compress but differ everywhere.
Array Ramp(const Shape& shape) {
  Array a = Array::Uninitialized(DataType::kUint32, shape);
  auto* p = reinterpret_cast<uint32_t*>(a.data());
  for (size_t i = 0; i < a.bytes().size() / 4; ++i) p[i] = static_cast<uint32_t>(i / 7 * 3 + i % 5);
  return a;
}

std::shared_ptr<const BytesCodec> Blosc(const std::string& cname, int blocksize) {
  return MakeBytesCodec("blosc", {{"cname", cname},
                                  {"clevel", 3},
                                  {"shuffle", "shuffle"},
                                  {"blocksize", blocksize}});
}

// The block size in a blosc header (libblosc adjusts the one asked for).
uint32_t BlockSize(const Bytes& enc) {
  uint32_t b = 0;
  std::memcpy(&b, enc.data() + 8, 4);
  return b;
}

TEST(DecodeRange, BloscRangesEqualTheWholeDecode) {
  const ChunkSpec spec = Spec(DataType::kUint32, {64, 64, 64});
  const Array a = Ramp(spec.shape);
  for (const std::string cname : {"lz4", "zstd", "blosclz"}) {
    auto codec = Blosc(cname, 16384);
    ASSERT_TRUE(codec->DecodesRanges());
    const Bytes enc = codec->Encode(a.bytes(), spec);
    ASSERT_LT(BlockSize(enc), a.bytes().size()) << cname;  // several blocks
    const Bytes whole = codec->Decode(enc, a.bytes().size(), spec);
    const size_t b = BlockSize(enc);
    for (auto [off, len] : std::vector<std::pair<size_t, size_t>>{
             {0, 4}, {0, 1 << 20}, {b, b}, {b - 4, 8}, {(1 << 20) - 5536, 5536}, {12, 3 * b}}) {
      auto part = codec->DecodeRange(enc, off, len, a.bytes().size(), spec);
      ASSERT_TRUE(part) << cname << " " << off;
      ASSERT_EQ(part->size(), len);
      EXPECT_EQ(0, std::memcmp(part->data(), whole.data() + off, len)) << cname << " " << off;
    }
    EXPECT_THROW(codec->DecodeRange(enc, (1 << 20) - 4, 8, a.bytes().size(), spec), Error);
  }
}

TEST(DecodeRange, BloscStoredUncompressedIsCopied) {
  const ChunkSpec spec = Spec(DataType::kUint8, {4096});
  Bytes noise(4096);
  uint32_t x = 12345;
  for (auto& b : noise) b = static_cast<std::byte>((x = x * 1103515245u + 12345u) >> 24);
  auto codec = Blosc("lz4", 0);
  const Bytes enc = codec->Encode(noise, spec);
  auto part = codec->DecodeRange(enc, 100, 1000, 4096, spec);
  ASSERT_TRUE(part);
  EXPECT_EQ(0, std::memcmp(part->data(), noise.data() + 100, 1000));
}

TEST(DecodeRange, ABlockOffsetPastTheEndIsDataLossNotARead) {
  const ChunkSpec spec = Spec(DataType::kUint32, {64, 64, 64});
  auto codec = Blosc("zstd", 16384);
  Bytes enc = codec->Encode(Ramp(spec.shape).bytes(), spec);
  const size_t b = BlockSize(enc);
  ASSERT_LT(4 * b, spec.num_bytes());
  // Block 3's offset (after the 16-byte header) now points far past the buffer.
  const uint32_t bad = 0x7ffffff0;
  std::memcpy(enc.data() + 16 + 4 * 3, &bad, 4);
  try {
    codec->DecodeRange(enc, 3 * b, 100, spec.num_bytes(), spec);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_NE(std::string(e.what()).find("block 3 starts at"), std::string::npos) << e.what();
  }
  // Blocks before it still decode.
  EXPECT_TRUE(codec->DecodeRange(enc, 0, 100, spec.num_bytes(), spec));
}

TEST(DecodeRange, OtherCodecsDecodeWhole) {
  const ChunkSpec spec = Spec(DataType::kUint8, {64});
  for (const char* name : {"gzip", "zstd", "crc32c"}) {
    auto codec = MakeBytesCodec(name, nlohmann::json::object());
    EXPECT_FALSE(codec->DecodesRanges()) << name;
    const Bytes enc = codec->Encode(Bytes(64, std::byte{7}), spec);
    EXPECT_FALSE(codec->DecodeRange(enc, 0, 8, 64, spec)) << name;
  }
}

TEST(DecodeRegion, ChainRegionsEqualSlicesOfTheWholeChunk) {
  const ChunkSpec spec = Spec(DataType::kUint32, {16, 32, 32});
  const Array a = Ramp(spec.shape);
  const CodecChain chain = CodecChain::FromJson(
      {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
       {{"name", "blosc"},
        {"configuration",
         {{"cname", "zstd"}, {"clevel", 3}, {"shuffle", "shuffle"}, {"blocksize", 8192}}}}},
      "test");
  ASSERT_TRUE(chain.DecodesRegions(spec));
  const Bytes enc = chain.Encode(a, spec);
  for (const Box& region : {Box({0, 0, 0}, {16, 32, 32}), Box({3, 5, 7}, {8, 20, 10}),
                            Box({15, 0, 0}, {1, 32, 32}), Box({4, 31, 31}, {12, 1, 1})}) {
    auto part = chain.DecodeRegion(enc, spec, region);
    ASSERT_TRUE(part) << region.ToString();
    const Array want = a.Slice(region);
    ASSERT_EQ(part->shape(), want.shape());
    EXPECT_EQ(0, std::memcmp(part->data(), want.data(), want.bytes().size())) << region.ToString();
  }
  EXPECT_FALSE(chain.DecodeRegion(enc, spec, Box({0, 0, 0}, {17, 1, 1})));  // outside
}

TEST(DecodeRegion, ChainsThatReorderOrSwapDecodeWhole) {
  const ChunkSpec spec = Spec(DataType::kUint32, {4, 4});
  const nlohmann::json blosc = {{"name", "blosc"},
                                {"configuration", {{"cname", "lz4"}, {"clevel", 1}}}};
  for (const nlohmann::json& codecs :
       {nlohmann::json{{{"name", "bytes"}, {"configuration", {{"endian", "big"}}}}, blosc},
        nlohmann::json{{{"name", "transpose"}, {"configuration", {{"order", {1, 0}}}}},
                       {{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                       blosc},
        nlohmann::json{{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                       {{"name", "gzip"}, {"configuration", {{"level", 1}}}}}}) {
    EXPECT_FALSE(CodecChain::FromJson(codecs, "test").DecodesRegions(spec)) << codecs.dump();
  }
}

}  // namespace
}  // namespace volbatch
