// The N5 / lz4-java block framing and its XXH32 checksum.
#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"
#include "volbatch/codec/util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::ByteSpec;
using testing::CodeOf;
using testing::ToBytes;

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 31 + 7) & 255);
  return b;
}

TEST(Xxh32, KnownValues) {
  // python3-xxhash 3.2.0: xxhash.xxh32(b"Nobody inspects the spammish repetition").hexdigest()
  const Bytes s = ToBytes("Nobody inspects the spammish repetition");
  EXPECT_EQ(codec_internal::Xxh32(s.data(), s.size(), 0), 0xe2293b2fu);
  // xxhash.xxh32(bytes((i*31+7)&255 for i in range(n)), seed=0x9747b28c).intdigest()
  const std::pair<size_t, uint32_t> cases[] = {
      {0, 0x8d3b42d8},  {1, 0x7e9a167b},  {3, 0xc7bff9ed},  {4, 0x204cce6d},  {15, 0x81c9b842},
      {16, 0x73f70937}, {17, 0x8ae4bbe0}, {33, 0x2287df88}, {100, 0xd776973c}};
  for (const auto& [n, want] : cases) {
    const Bytes p = Pattern(n);
    EXPECT_EQ(codec_internal::Xxh32(p.data(), p.size(), 0x9747b28c), want) << n;
  }
}

// Written by lz4-java 1.8.0 (Debian liblz4-java):
//   data = 64 x 'a' followed by (byte)(i * 7) for i in 64..99
//   new LZ4BlockOutputStream(bos, 64).write(data); close()
// giving one LZ4 block (token 0x20), one raw block (token 0x10) and the end block.
const Bytes kJavaBlocks = ToBytes(
    {0x4c, 0x5a, 0x34, 0x42, 0x6c, 0x6f, 0x63, 0x6b, 0x20, 0x0b, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00,
     0x00, 0x23, 0xf0, 0xf6, 0x0f, 0x1f, 0x61, 0x01, 0x00, 0x27, 0x50, 0x61, 0x61, 0x61, 0x61, 0x61,
     0x4c, 0x5a, 0x34, 0x42, 0x6c, 0x6f, 0x63, 0x6b, 0x10, 0x24, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00,
     0x00, 0x1c, 0xba, 0xcc, 0x02, 0xc0, 0xc7, 0xce, 0xd5, 0xdc, 0xe3, 0xea, 0xf1, 0xf8, 0xff, 0x06,
     0x0d, 0x14, 0x1b, 0x22, 0x29, 0x30, 0x37, 0x3e, 0x45, 0x4c, 0x53, 0x5a, 0x61, 0x68, 0x6f, 0x76,
     0x7d, 0x84, 0x8b, 0x92, 0x99, 0xa0, 0xa7, 0xae, 0xb5, 0x4c, 0x5a, 0x34, 0x42, 0x6c, 0x6f, 0x63,
     0x6b, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});

Bytes JavaData() {
  Bytes d(100);
  for (size_t i = 0; i < 64; ++i) d[i] = std::byte{'a'};
  for (size_t i = 64; i < 100; ++i) d[i] = static_cast<std::byte>((i * 7) & 255);
  return d;
}

TEST(N5Lz4, DecodesLz4JavaOutput) {
  auto codec = MakeBytesCodec("n5_lz4", json::object());
  EXPECT_EQ(codec->Decode(kJavaBlocks, 100, ByteSpec(100)), JavaData());
  EXPECT_EQ(CodeOf([&] { codec->Decode(kJavaBlocks, 99, ByteSpec(100)); }), ErrorCode::kDataLoss);
}

TEST(N5Lz4, EncodesLikeLz4Java) {
  // Same block size: same headers, raw/LZ4 choices and checksums. (The LZ4 payload itself
  // may differ between LZ4 compressors; here both are liblz4's default.)
  auto codec = MakeBytesCodec("n5_lz4", {{"blockSize", 64}});
  EXPECT_EQ(codec->Encode(JavaData(), ByteSpec(100)), kJavaBlocks);
  // new LZ4BlockOutputStream(bos).close(): the end block alone, level 6 for 64 KiB blocks.
  EXPECT_EQ(MakeBytesCodec("n5_lz4", json::object())->Encode(Bytes{}, ByteSpec(0)),
            ToBytes({0x4c, 0x5a, 0x34, 0x42, 0x6c, 0x6f, 0x63, 0x6b, 0x16, 0, 0,
                     0,    0,    0,    0,    0,    0,    0,    0,    0,    0}));
}

TEST(N5Lz4, RejectsBadHeaders) {
  auto codec = MakeBytesCodec("n5_lz4", json::object());
  auto expect_loss = [&](Bytes b, const char* why) {
    SCOPED_TRACE(why);
    EXPECT_EQ(CodeOf([&] { codec->Decode(b, 1000, ByteSpec(1000)); }), ErrorCode::kDataLoss);
  };
  Bytes b = kJavaBlocks;
  b[0] = std::byte{'X'};
  expect_loss(b, "magic");
  b = kJavaBlocks;
  b[8] = std::byte{0x30};
  expect_loss(b, "method");
  b = kJavaBlocks;
  b[17] ^= std::byte{1};
  expect_loss(b, "checksum");
  b = kJavaBlocks;
  b[15] = std::byte{0x01};  // decoded length 65536 + 64 > 1 << (10 + 0)
  expect_loss(b, "decoded length beyond the level's block size");
  b = kJavaBlocks;
  b[41] = std::byte{0x25};  // raw block whose lengths disagree
  expect_loss(b, "raw lengths");
  b = kJavaBlocks;
  b.resize(b.size() - 21);
  expect_loss(b, "missing end block");
  b = kJavaBlocks;
  b[b.size() - 1] = std::byte{1};
  expect_loss(b, "end block with a checksum");
}

TEST(N5Lz4, HostileLengthsAllocateNothing) {
  // A header claiming 32 MiB decoded at level 15 from a 21-byte stream.
  Bytes b = ToBytes(
      {'L', 'Z', '4', 'B', 'l', 'o', 'c', 'k', 0x2f, 0x10, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0});
  auto codec = MakeBytesCodec("n5_lz4", json::object());
  EXPECT_EQ(CodeOf([&] { codec->Decode(b, size_t{1} << 40, ByteSpec(1)); }), ErrorCode::kDataLoss);
}

// The bound a chain decodes the stream under n5_lz4 with (see CodecChain's
// StreamsBetweenBytesCodecsMayExpandMoreThanAnEighth): never below what Encode makes.
TEST(N5Lz4, MaxEncodedSizeBoundsEncode) {
  for (int block_size : {64, 1000, 65536}) {
    const auto codec = MakeBytesCodec("n5_lz4", {{"blockSize", block_size}});
    for (size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{5000}}) {
      Bytes noise(n);
      uint64_t x = 2463534242ull + n;
      for (auto& b : noise) x ^= x << 13, x ^= x >> 7, x ^= x << 17, b = std::byte(x);
      EXPECT_LE(codec->Encode(noise, ByteSpec(n)).size(), codec->MaxEncodedSize(n))
          << block_size << " " << n;
    }
  }
  EXPECT_EQ(MakeBytesCodec("n5_lz4", json::object())->MaxEncodedSize(SIZE_MAX), SIZE_MAX);
}

}  // namespace
}  // namespace volbatch
