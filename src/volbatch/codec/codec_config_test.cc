// Bad configurations are InvalidArgument naming "<codec>.<field>"; unknown names Unsupported.
#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::CodeOf;

void ExpectInvalid(const std::string& name, const json& config, const std::string& needle) {
  std::string msg;
  EXPECT_EQ(CodeOf([&] { MakeBytesCodec(name, config); }, &msg), ErrorCode::kInvalidArgument)
      << name << " " << config.dump();
  EXPECT_NE(msg.find(needle), std::string::npos) << name << " " << config.dump() << ": " << msg;
}

TEST(CodecConfig, FieldRanges) {
  ExpectInvalid("gzip", {{"level", 10}}, "gzip.level must be 0..9, got 10");
  ExpectInvalid("gzip", {{"level", -1}}, "gzip.level must be 0..9, got -1");
  ExpectInvalid("gzip", {{"level", "5"}}, "gzip.level must be an integer, got \"5\"");
  ExpectInvalid("gzip", {{"level", 5.5}}, "gzip.level must be an integer");
  ExpectInvalid("zlib", {{"level", 10}}, "zlib.level must be 0..9");
  ExpectInvalid("zstd", {{"level", 23}}, "zstd.level must be");
  ExpectInvalid("zstd", {{"checksum", "yes"}}, "zstd.checksum must be true or false");
  ExpectInvalid("blosc", {{"clevel", 12}}, "blosc.clevel must be 0..9, got 12");
  ExpectInvalid("blosc", {{"cname", "lzo"}}, "blosc.cname must be one of");
  ExpectInvalid("blosc", {{"cname", 1}}, "blosc.cname must be one of");
  ExpectInvalid("blosc", {{"shuffle", "bad"}}, "blosc.shuffle must be one of");
  ExpectInvalid("blosc", {{"shuffle", 1}}, "blosc.shuffle must be one of");
  ExpectInvalid("blosc", {{"typesize", 0}}, "blosc.typesize must be 1..255, got 0");
  ExpectInvalid("blosc", {{"typesize", 256}}, "blosc.typesize must be 1..255");
  ExpectInvalid("blosc", {{"blocksize", -1}}, "blosc.blocksize must be");
  ExpectInvalid("bz2", {{"level", 0}}, "bz2.level must be 1..9, got 0");
  ExpectInvalid("xz", {{"level", 10}}, "xz.level must be 0..9");
  ExpectInvalid("xz", {{"preset", -1}}, "xz.preset must be 0..9");
  ExpectInvalid("xz", {{"level", 3}, {"preset", 4}}, "disagree");
  ExpectInvalid("lz4", {{"acceleration", 0}}, "lz4.acceleration must be");
  ExpectInvalid("n5_lz4", {{"blockSize", 32}}, "n5_lz4.blockSize must be 64..33554432, got 32");
  ExpectInvalid("n5_lz4", {{"blockSize", 1 << 26}}, "n5_lz4.blockSize must be");
  ExpectInvalid("gzip", {{"level", uint64_t{1} << 63}}, "gzip.level must be 0..9");
}

TEST(CodecConfig, UnknownFieldsAndShapes) {
  ExpectInvalid("gzip", {{"lvl", 5}}, "gzip.configuration has unknown field \"lvl\"");
  ExpectInvalid("crc32c", {{"x", 1}}, "crc32c.configuration has unknown field \"x\"");
  ExpectInvalid("zstd", json::array({1}), "zstd.configuration must be an object");
  ExpectInvalid("blosc", json(5), "blosc.configuration must be an object");
}

TEST(CodecConfig, AcceptedForms) {
  EXPECT_EQ(MakeBytesCodec("xz", {{"preset", 3}})->ToJson()["configuration"]["level"], 3);
  EXPECT_EQ(MakeBytesCodec("xz", {{"preset", 3}, {"level", 3}})->ToJson()["configuration"]["level"],
            3);
  EXPECT_EQ(MakeBytesCodec("gzip", json(nullptr))->ToJson()["configuration"]["level"], 5);
  EXPECT_EQ(MakeBytesCodec("zstd", {{"level", 0}})->ToJson()["configuration"]["level"], 0);
  EXPECT_EQ(MakeBytesCodec("n5_lz4", json::object())->ToJson()["configuration"]["blockSize"],
            65536);
}

TEST(CodecConfig, UnknownCodecIsUnsupported) {
  std::string msg;
  EXPECT_EQ(CodeOf([&] { MakeBytesCodec("brotli", json::object()); }, &msg),
            ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("brotli"), std::string::npos);
}

}  // namespace
}  // namespace volbatch
