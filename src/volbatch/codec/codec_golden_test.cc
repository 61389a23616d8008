// Decoding bytes written by other implementations (python's zlib/gzip/bz2/lzma, numcodecs,
// the zstd command-line tool) and checking that ours are readable by the same formats.
// Each literal says how it was produced (Debian bookworm: python 3.11, numcodecs 0.11.0,
// zstd 1.5.4).
#include <gtest/gtest.h>
#include <zstd.h>

#include "volbatch/codec/codec_test_util.h"
#include "volbatch/codec/util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::ByteSpec;
using testing::CodeOf;
using testing::Spec;
using testing::ToBytes;
using testing::ToString;

const std::string kHello = "hello volbatch\n";

std::string DecodeWith(const std::string& name, const Bytes& enc, size_t max = 1000) {
  return ToString(MakeBytesCodec(name, json::object())->Decode(enc, max, ByteSpec(max)));
}

TEST(Golden, GzipFromPython) {
  // gzip.compress(b"hello volbatch\n", compresslevel=6, mtime=0)
  const Bytes g = ToBytes({0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48,
                           0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xcb, 0xcf, 0x49, 0x4a, 0x2c, 0x49, 0xce,
                           0xe0, 0x02, 0x00, 0xb3, 0xdc, 0x4d, 0xa3, 0x0f, 0x00, 0x00, 0x00});
  EXPECT_EQ(DecodeWith("gzip", g), kHello);
  EXPECT_EQ(DecodeWith("gzip", g, kHello.size()), kHello);
  EXPECT_EQ(CodeOf([&] { DecodeWith("gzip", g, kHello.size() - 1); }), ErrorCode::kDataLoss);
}

TEST(Golden, GzipWithFileNameFromPython) {
  // gzip.GzipFile(filename="hello.txt", mode="wb", fileobj=bio, mtime=0).write(b"hello volbatch\n")
  // (FNAME flag set, original file name in the header)
  const Bytes g = ToBytes({0x1f, 0x8b, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x68, 0x65,
                           0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9,
                           0xc9, 0x57, 0x28, 0xcb, 0xcf, 0x49, 0x4a, 0x2c, 0x49, 0xce, 0xe0, 0x02,
                           0x00, 0xb3, 0xdc, 0x4d, 0xa3, 0x0f, 0x00, 0x00, 0x00});
  EXPECT_EQ(DecodeWith("gzip", g), kHello);
}

TEST(Golden, GzipTwoMembersFromPython) {
  // gzip.compress(b"hello ", mtime=0) + gzip.compress(b"volbatch\n", mtime=0)
  const Bytes g =
      ToBytes({0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9,
               0xc9, 0x57, 0x00, 0x00, 0xf6, 0xf9, 0x81, 0xed, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x8b,
               0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b, 0xcb, 0xcf, 0x49, 0x4a, 0x2c,
               0x49, 0xce, 0xe0, 0x02, 0x00, 0xd8, 0x80, 0x3e, 0x22, 0x09, 0x00, 0x00, 0x00});
  EXPECT_EQ(DecodeWith("gzip", g), kHello);
  // The bound covers the members together.
  EXPECT_EQ(DecodeWith("gzip", g, kHello.size()), kHello);
  EXPECT_EQ(CodeOf([&] { DecodeWith("gzip", g, kHello.size() - 1); }), ErrorCode::kDataLoss);
}

TEST(Golden, GzipOutputHasTheStandardHeader) {
  const Bytes enc = MakeBytesCodec("gzip", {{"level", 6}})->Encode(ToBytes(kHello), ByteSpec(15));
  ASSERT_GE(enc.size(), 18u);
  EXPECT_EQ(enc[0], std::byte{0x1f});
  EXPECT_EQ(enc[1], std::byte{0x8b});
  EXPECT_EQ(enc[2], std::byte{0x08});                                               // deflate
  EXPECT_EQ(codec_internal::LoadLE32(enc.data() + enc.size() - 4), kHello.size());  // ISIZE
}

TEST(Golden, ZlibFromPythonAndNumcodecs) {
  // zlib.compress(b"hello volbatch\n", 6)
  const Bytes z6 = ToBytes({0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xcb, 0xcf, 0x49,
                            0x4a, 0x2c, 0x49, 0xce, 0xe0, 0x02, 0x00, 0x2e, 0xd4, 0x05, 0x92});
  // numcodecs.Zlib(level=1).encode(b"hello volbatch\n")
  const Bytes z1 = ToBytes({0x78, 0x01, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xcb, 0xcf, 0x49,
                            0x4a, 0x2c, 0x49, 0xce, 0xe0, 0x02, 0x00, 0x2e, 0xd4, 0x05, 0x92});
  EXPECT_EQ(DecodeWith("zlib", z6), kHello);
  EXPECT_EQ(DecodeWith("zlib", z1), kHello);
  const Bytes enc = MakeBytesCodec("zlib", {{"level", 6}})->Encode(ToBytes(kHello), ByteSpec(15));
  EXPECT_EQ(std::to_integer<int>(enc[0]) & 0x0f, 8);  // deflate
  EXPECT_EQ(((std::to_integer<int>(enc[0]) << 8) | std::to_integer<int>(enc[1])) % 31,
            0);  // FCHECK
}

TEST(Golden, ZstdFromNumcodecs) {
  // numcodecs.Zstd(level=3).encode(b"hello volbatch\n") (declares its content size)
  const Bytes z = ToBytes({0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x0f, 0x79, 0x00, 0x00, 0x68, 0x65, 0x6c,
                           0x6c, 0x6f, 0x20, 0x76, 0x6f, 0x6c, 0x62, 0x61, 0x74, 0x63, 0x68, 0x0a});
  EXPECT_EQ(DecodeWith("zstd", z), kHello);
  EXPECT_EQ(CodeOf([&] { DecodeWith("zstd", z, kHello.size() - 1); }), ErrorCode::kDataLoss);
}

TEST(Golden, ZstdWithoutContentSizeFromTheCommandLineTool) {
  // printf 'hello volbatch\n' | zstd -q -c   (streamed: no content size, with a checksum)
  const Bytes z =
      ToBytes({0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x79, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
               0x20, 0x76, 0x6f, 0x6c, 0x62, 0x61, 0x74, 0x63, 0x68, 0x0a, 0xef, 0x1d, 0x93, 0x4d});
  ASSERT_EQ(ZSTD_getFrameContentSize(z.data(), z.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  EXPECT_EQ(DecodeWith("zstd", z), kHello);
  EXPECT_EQ(DecodeWith("zstd", z, kHello.size()), kHello);
  EXPECT_EQ(CodeOf([&] { DecodeWith("zstd", z, kHello.size() - 1); }), ErrorCode::kDataLoss);
  Bytes bad = z;
  bad[bad.size() - 1] ^= std::byte{1};  // the XXH64 checksum
  EXPECT_EQ(CodeOf([&] { DecodeWith("zstd", bad); }), ErrorCode::kDataLoss);
}

// A large frame without a content size (written with the streaming API, as a streaming
// writer would) decodes through the growing buffer, in several frames.
TEST(Golden, ZstdStreamedFramesWithoutSizes) {
  const Bytes raw = testing::TestData(3 << 20, 9, true);
  Bytes all;
  for (int frame = 0; frame < 2; ++frame) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    Bytes out(ZSTD_compressBound(raw.size()));
    ZSTD_inBuffer in{raw.data(), raw.size(), 0};
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    // No pledged size: ZSTD_e_end on a stream that did not know its size up front would
    // still record it, so feed it in two steps.
    ZSTD_inBuffer first{raw.data(), raw.size() / 2, 0};
    ZSTD_compressStream2(c, &o, &first, ZSTD_e_continue);
    in.pos = first.pos;
    ASSERT_EQ(ZSTD_compressStream2(c, &o, &in, ZSTD_e_end), 0u);
    ZSTD_freeCCtx(c);
    out.resize(o.pos);
    ASSERT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
    all.insert(all.end(), out.begin(), out.end());
  }
  Bytes both = raw;
  both.insert(both.end(), raw.begin(), raw.end());
  auto codec = MakeBytesCodec("zstd", json::object());
  EXPECT_EQ(codec->Decode(all, both.size(), ByteSpec(both.size())), both);
  EXPECT_EQ(CodeOf([&] { codec->Decode(all, both.size() - 1, ByteSpec(both.size())); }),
            ErrorCode::kDataLoss);
}

TEST(Golden, Lz4FromNumcodecs) {
  // numcodecs.LZ4().encode(b"hello volbatch\n"): LE32 size 15, then an LZ4 block (literals only)
  const Bytes a = ToBytes({0x0f, 0x00, 0x00, 0x00, 0xf0, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
                           0x20, 0x76, 0x6f, 0x6c, 0x62, 0x61, 0x74, 0x63, 0x68, 0x0a});
  EXPECT_EQ(DecodeWith("lz4", a), kHello);
  // numcodecs.LZ4().encode(b"abcd" * 16): a literal run and a match
  const Bytes b = ToBytes({0x40, 0x00, 0x00, 0x00, 0x4f, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x24,
                           0x50, 0x64, 0x61, 0x62, 0x63, 0x64});
  std::string abcd;
  for (int i = 0; i < 16; ++i) abcd += "abcd";
  EXPECT_EQ(DecodeWith("lz4", b), abcd);
  EXPECT_EQ(CodeOf([&] { DecodeWith("lz4", b, 63); }), ErrorCode::kDataLoss);
  // Ours: the same framing.
  const Bytes enc = MakeBytesCodec("lz4", json::object())->Encode(ToBytes(abcd), ByteSpec(64));
  EXPECT_EQ(codec_internal::LoadLE32(enc.data()), 64u);
}

TEST(Golden, Bz2FromNumcodecs) {
  // numcodecs.BZ2(level=9).encode(b"hello volbatch\n")
  const Bytes z =
      ToBytes({0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x99, 0xa9, 0x60, 0x08,
               0x00, 0x00, 0x03, 0xd1, 0x80, 0x00, 0x10, 0x40, 0x00, 0x3a, 0x44, 0x85, 0x00, 0x20,
               0x00, 0x31, 0x00, 0xd3, 0x4d, 0x04, 0x01, 0xa6, 0x9a, 0x03, 0x87, 0xac, 0x81, 0xc1,
               0x92, 0x5e, 0x2e, 0xe4, 0x8a, 0x70, 0xa1, 0x21, 0x33, 0x52, 0xc0, 0x10});
  EXPECT_EQ(DecodeWith("bz2", z), kHello);
  // Two concatenated streams, as python's bz2 reads them.
  Bytes two = z;
  two.insert(two.end(), z.begin(), z.end());
  EXPECT_EQ(DecodeWith("bz2", two), kHello + kHello);
  EXPECT_EQ(CodeOf([&] { DecodeWith("bz2", two, 2 * kHello.size() - 1); }), ErrorCode::kDataLoss);
  const Bytes enc = MakeBytesCodec("bz2", {{"level", 9}})->Encode(ToBytes(kHello), ByteSpec(15));
  EXPECT_EQ(ToString(ByteView(enc).first(4)), "BZh9");
}

TEST(Golden, XzFromNumcodecs) {
  // numcodecs.LZMA().encode(b"hello volbatch\n")  (FORMAT_XZ, CHECK_CRC64, preset 6)
  const Bytes z = ToBytes({0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46,
                           0x02, 0x00, 0x21, 0x01, 0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3,
                           0x01, 0x00, 0x0e, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x76, 0x6f, 0x6c,
                           0x62, 0x61, 0x74, 0x63, 0x68, 0x0a, 0x00, 0x00, 0x52, 0x1b, 0xa0, 0x89,
                           0xf6, 0xd9, 0xc4, 0xcf, 0x00, 0x01, 0x27, 0x0f, 0xdf, 0x1a, 0xfc, 0x6a,
                           0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a});
  EXPECT_EQ(DecodeWith("xz", z), kHello);
  // Ours: the .xz magic and stream flags for CRC64 (byte 7 = 0x04), like numcodecs' default.
  const Bytes enc = MakeBytesCodec("xz", {{"level", 6}})->Encode(ToBytes(kHello), ByteSpec(15));
  ASSERT_GE(enc.size(), 12u);
  EXPECT_TRUE(std::equal(enc.begin(), enc.begin() + 8, z.begin()));
}

TEST(Golden, BloscFromNumcodecs) {
  // numcodecs.Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE).encode(np.arange(16,
  // dtype="<u2")) (too small to compress: stored as a plain copy, flags 0x33)
  const Bytes a = ToBytes({0x02, 0x01, 0x33, 0x02, 0x20, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
                           0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00,
                           0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00, 0x09, 0x00,
                           0x0a, 0x00, 0x0b, 0x00, 0x0c, 0x00, 0x0d, 0x00, 0x0e, 0x00, 0x0f, 0x00});
  // numcodecs.Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE).encode(np.arange(64,
  // dtype="<i4"))
  const Bytes b =
      ToBytes({0x02, 0x01, 0x94, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x3e,
               0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x28, 0xb5,
               0x2f, 0xfd, 0x60, 0x00, 0x00, 0xe5, 0x00, 0x00, 0x38, 0xaa, 0xcc, 0xf0, 0x00,
               0xff, 0x00, 0xff, 0x08, 0x20, 0xa0, 0x82, 0xf7, 0x49, 0x50, 0xd8, 0x03, 0x11,
               0xc0, 0x66, 0xdc, 0x8c, 0x64, 0x36, 0x0b, 0x99, 0xbf, 0x02});
  auto codec = MakeBytesCodec("blosc", json::object());
  const Bytes da = codec->Decode(a, 32, Spec(DataType::kUint16, {16}));
  ASSERT_EQ(da.size(), 32u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(std::to_integer<int>(da[2 * i]) | std::to_integer<int>(da[2 * i + 1]) << 8, i);
  }
  const Bytes db = codec->Decode(b, 256, Spec(DataType::kInt32, {64}));
  ASSERT_EQ(db.size(), 256u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(codec_internal::LoadLE32(db.data() + 4 * i), uint32_t(i));
  EXPECT_EQ(CodeOf([&] { codec->Decode(b, 255, Spec(DataType::kInt32, {64})); }),
            ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace volbatch
