// numcodecs' codecs under their Zarr v3 names: checksum and shuffle layouts against known
// values, configurations as zarr-python 3 writes them (partial, with nulls), and the errors of
// bad ones. Byte-for-byte agreement with numcodecs' encoders is tested in tests/interop.
#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::ByteSpec;
using testing::CodeOf;
using testing::ToBytes;

Bytes Encode(const std::string& name, const json& config, const Bytes& raw) {
  return MakeBytesCodec(name, config)->Encode(raw, ByteSpec(raw.size()));
}

TEST(NumcodecsCodecs, ChecksumLayouts) {
  const Bytes check = ToBytes("123456789");
  // The standard check values: CRC-32 cbf43926, Adler-32 091e01de, little endian, first.
  EXPECT_EQ(Encode("numcodecs.crc32", json::object(), check), [&] {
    Bytes b = ToBytes({0x26, 0x39, 0xf4, 0xcb});
    b.insert(b.end(), check.begin(), check.end());
    return b;
  }());
  Bytes end = check;
  for (int v : {0x26, 0x39, 0xf4, 0xcb}) end.push_back(std::byte(v));
  EXPECT_EQ(Encode("numcodecs.crc32", {{"location", "end"}}, check), end);
  EXPECT_EQ(Bytes(Encode("numcodecs.adler32", json::object(), check)).size(), 13u);
  EXPECT_EQ(Encode("numcodecs.adler32", json::object(), check)[0], std::byte{0xde});
  // Fletcher-32 of "abcde" (16-bit little-endian words, zero padded) is f04fc729, appended.
  const Bytes f = Encode("numcodecs.fletcher32", json::object(), ToBytes("abcde"));
  EXPECT_EQ(f, ToBytes({'a', 'b', 'c', 'd', 'e', 0x29, 0xc7, 0x4f, 0xf0}));
  EXPECT_EQ(MakeBytesCodec("numcodecs.fletcher32", json::object())->Decode(f, 5, ByteSpec(5)),
            ToBytes("abcde"));
}

TEST(NumcodecsCodecs, ChecksumMismatchNamesTheCodec) {
  Bytes enc = Encode("numcodecs.crc32", json::object(), ToBytes("123456789"));
  enc[6] ^= std::byte{1};
  std::string message;
  EXPECT_EQ(
      CodeOf(
          [&] { MakeBytesCodec("numcodecs.crc32", json::object())->Decode(enc, 9, ByteSpec(9)); },
          &message),
      ErrorCode::kDataLoss);
  EXPECT_EQ(message.rfind("numcodecs.crc32: checksum mismatch (stored 0xcbf43926, computed 0x", 0),
            0u)
      << message;
}

TEST(NumcodecsCodecs, ShuffleLayout) {
  const Bytes raw = ToBytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  const Bytes enc = Encode("numcodecs.shuffle", {{"elementsize", 4}}, raw);
  EXPECT_EQ(enc, ToBytes({1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12}));
  auto codec = MakeBytesCodec("numcodecs.shuffle", json::object());  // elementsize 4
  EXPECT_EQ(codec->Decode(enc, 12, ByteSpec(12)), raw);
  EXPECT_EQ(CodeOf([&] {
              codec->Decode(ToBytes({1, 2, 3}), 12, ByteSpec(12));
            }),
            ErrorCode::kDataLoss);
  EXPECT_EQ(Encode("numcodecs.shuffle", {{"elementsize", 1}}, raw), raw);
}

TEST(NumcodecsCodecs, ConfigurationsAsZarrPython3WritesThem) {
  // Partial configurations and nulls take numcodecs' defaults; ToJson spells them out.
  EXPECT_EQ(MakeBytesCodec("numcodecs.zlib", json::object())->ToJson(),
            json({{"name", "numcodecs.zlib"}, {"configuration", {{"level", 1}}}}));
  EXPECT_EQ(MakeBytesCodec("numcodecs.lzma", {{"preset", nullptr}})->ToJson()["configuration"],
            json({{"format", 1}, {"check", -1}, {"preset", nullptr}, {"filters", nullptr}}));
  EXPECT_EQ(MakeBytesCodec("numcodecs.blosc", {{"cname", "zstd"}})->ToJson()["configuration"],
            json({{"cname", "zstd"}, {"clevel", 5}, {"shuffle", 1}, {"blocksize", 0}}));
  EXPECT_EQ(KindOfCodec("numcodecs.gzip"), CodecKind::kBytesToBytes);
  // numcodecs' automatic blosc shuffle on a uint8 buffer is bitshuffle (header flag bit 2).
  const Bytes raw = testing::TestData(4096, 3, true);
  const Bytes enc = Encode("numcodecs.blosc", {{"shuffle", -1}}, raw);
  EXPECT_EQ(std::to_integer<int>(enc[2]) & 0x4, 0x4);
  EXPECT_EQ(std::to_integer<int>(enc[3]), 1);  // typesize
}

TEST(NumcodecsCodecs, BadConfigurationsNameTheField) {
  auto message = [](const std::string& name, const json& config) {
    std::string m;
    CodeOf([&] { MakeBytesCodec(name, config); }, &m);
    return m;
  };
  EXPECT_EQ(message("numcodecs.zlib", {{"level", 12}}),
            "numcodecs.zlib.level must be -1..9, got 12");
  EXPECT_EQ(message("numcodecs.lzma", {{"format", 2}}),
            "numcodecs.lzma.format 2 is not supported (only 1, the XZ container)");
  EXPECT_EQ(message("numcodecs.crc32", {{"location", "middle"}}),
            "numcodecs.crc32.location must be one of \"start\", \"end\", got \"middle\"");
  EXPECT_EQ(message("numcodecs.zstd", {{"levels", 1}})
                .rfind("numcodecs.zstd.configuration has unknown field \"levels\"", 0),
            0u);
  EXPECT_EQ(message("numcodecs.nope", json::object()).rfind("unknown codec \"numcodecs.nope\"", 0),
            0u);
}

TEST(NumcodecsCodecs, LzmaWithCustomFiltersReadsButDoesNotWrite) {
  const Bytes raw = testing::TestData(1000, 4, true);
  const Bytes xz = Encode("numcodecs.lzma", json::object(), raw);
  auto custom = MakeBytesCodec("numcodecs.lzma", {{"filters", {{{"id", 33}}}}});
  EXPECT_EQ(custom->Decode(xz, raw.size(), ByteSpec(raw.size())), raw);
  EXPECT_EQ(CodeOf([&] { custom->Encode(raw, ByteSpec(raw.size())); }), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace volbatch
