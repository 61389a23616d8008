#include "volbatch/codec/crc32c.h"

#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"
#include "volbatch/codec/util.h"

namespace volbatch {
namespace {

using testing::ByteSpec;
using testing::CodeOf;
using testing::ToBytes;

TEST(Crc32c, KnownVectors) {
  // The CRC-32C check value of "123456789" (RFC 3720 / the CRC catalogue).
  EXPECT_EQ(Crc32c(ToBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(codec_internal::Crc32cPortable(ToBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(Bytes{}), 0u);
  // RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA, 32 bytes of 0xFF -> 0x62A8AB43.
  EXPECT_EQ(Crc32c(Bytes(32, std::byte{0})), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(Bytes(32, std::byte{0xFF})), 0x62A8AB43u);
}

TEST(Crc32c, HardwareAndTableAgreeAtEveryLengthAndAlignment) {
  const Bytes data = testing::TestData(300, 1, false);
  for (size_t off = 0; off < 9; ++off) {
    for (size_t len = 0; off + len <= data.size(); len += 1 + len / 16) {
      ByteView v(data.data() + off, len);
      ASSERT_EQ(Crc32c(v), codec_internal::Crc32cPortable(v)) << off << " " << len;
    }
  }
}

TEST(Crc32c, Continues) {
  const Bytes data = testing::TestData(1000, 2, false);
  ByteView v(data);
  EXPECT_EQ(Crc32c(v.subspan(300), Crc32c(v.first(300))), Crc32c(v));
}

TEST(Crc32c, CodecAppendsLittleEndianChecksum) {
  auto codec = MakeBytesCodec("crc32c", nlohmann::json::object());
  EXPECT_EQ(codec->ToJson(), nlohmann::json({{"name", "crc32c"}}));
  const Bytes enc = codec->Encode(ToBytes("123456789"), ByteSpec(9));
  EXPECT_EQ(enc, ToBytes({'1', '2', '3', '4', '5', '6', '7', '8', '9', 0x83, 0x92, 0x06, 0xE3}));
  EXPECT_EQ(codec->Decode(enc, 9, ByteSpec(9)), ToBytes("123456789"));
  // Empty payload: just the checksum of nothing.
  EXPECT_EQ(codec->Encode(Bytes{}, ByteSpec(0)), ToBytes({0, 0, 0, 0}));
}

TEST(Crc32c, MismatchIsDataLossNamingTheChecksum) {
  auto codec = MakeBytesCodec("crc32c", nlohmann::json::object());
  Bytes enc = codec->Encode(ToBytes("123456789"), ByteSpec(9));
  enc[2] ^= std::byte{4};
  std::string msg;
  EXPECT_EQ(CodeOf([&] { codec->Decode(enc, 9, ByteSpec(9)); }, &msg), ErrorCode::kDataLoss);
  EXPECT_NE(msg.find("crc32c checksum mismatch"), std::string::npos) << msg;
  EXPECT_EQ(CodeOf([&] {
              codec->Decode(ToBytes({1, 2, 3}), 9, ByteSpec(9));
            }),
            ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace volbatch
