#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::CodeOf;

json One(const std::string& name, json config) {
  return json::array({{{"name", name}, {"configuration", config}}});
}

TEST(ParseCodecSpec, SingleCodecsWithDefaults) {
  EXPECT_EQ(ParseCodecSpec("raw"), json::array());
  EXPECT_EQ(ParseCodecSpec("gzip"), One("gzip", {{"level", 5}}));
  EXPECT_EQ(ParseCodecSpec("gzip:6"), One("gzip", {{"level", 6}}));
  EXPECT_EQ(ParseCodecSpec("zlib:6"), One("zlib", {{"level", 6}}));
  EXPECT_EQ(ParseCodecSpec("zstd"), One("zstd", {{"level", 3}, {"checksum", false}}));
  EXPECT_EQ(ParseCodecSpec("zstd:3"), One("zstd", {{"level", 3}, {"checksum", false}}));
  EXPECT_EQ(ParseCodecSpec("zstd:-3"), One("zstd", {{"level", -3}, {"checksum", false}}));
  EXPECT_EQ(ParseCodecSpec("lz4"), One("lz4", {{"acceleration", 1}}));
  EXPECT_EQ(ParseCodecSpec("lz4:4"), One("lz4", {{"acceleration", 4}}));
  EXPECT_EQ(ParseCodecSpec("bz2:9"), One("bz2", {{"level", 9}}));
  EXPECT_EQ(ParseCodecSpec("xz:6"), One("xz", {{"level", 6}}));
  EXPECT_EQ(ParseCodecSpec("crc32c"), json::array({{{"name", "crc32c"}}}));
  const json blosc =
      One("blosc", {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}, {"blocksize", 0}});
  EXPECT_EQ(ParseCodecSpec("blosc"), blosc);
  EXPECT_EQ(ParseCodecSpec("blosc:lz4:5:shuffle"), blosc);
  EXPECT_EQ(ParseCodecSpec("blosc:zstd:9:bitshuffle"),
            One("blosc",
                {{"cname", "zstd"}, {"clevel", 9}, {"shuffle", "bitshuffle"}, {"blocksize", 0}}));
  EXPECT_EQ(ParseCodecSpec("blosc:zlib")[0]["configuration"]["cname"], "zlib");
  EXPECT_EQ(ParseCodecSpec("blosc:blosclz:1:noshuffle")[0]["configuration"]["shuffle"],
            "noshuffle");
}

TEST(ParseCodecSpec, Combinations) {
  const json j = ParseCodecSpec("zstd:3+crc32c");
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "zstd");
  EXPECT_EQ(j[1]["name"], "crc32c");
  EXPECT_EQ(ParseCodecSpec("gzip:1+crc32c+crc32c").size(), 3u);
  // The output is a valid chain tail.
  json chain = json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}});
  for (const auto& c : ParseCodecSpec("blosc:lz4:5:shuffle+crc32c")) chain.push_back(c);
  EXPECT_EQ(CodecChain::FromJson(chain, "test").bytes_codecs().size(), 2u);
}

TEST(ParseCodecSpec, ErrorsNameTheSpecAndTheProblem) {
  struct Case {
    std::string spec, needle;
  };
  const Case cases[] = {
      {"", "empty"},
      {"gzip:", "not an integer"},
      {"gzip:x", "gzip level \"x\" is not an integer"},
      {"gzip:6x", "not an integer"},
      {"gzip:12", "gzip.level must be 0..9, got 12"},
      {"gzip:1:2", "\"gzip\" takes at most 1"},
      {"zstd:99", "zstd.level must be"},
      {"foo", "unknown codec \"foo\""},
      {"zstd:3+", "empty codec"},
      {"+crc32c", "empty codec"},
      {"zstd:3++crc32c", "empty codec"},
      {"raw+gzip", "\"raw\""},
      {"gzip+raw", "\"raw\""},
      {"blosc:lzo", "blosc.cname must be one of"},
      {"blosc:lz4:12", "blosc.clevel must be 0..9, got 12"},
      {"blosc:lz4:5:sideways", "blosc.shuffle must be one of"},
      {"blosc:lz4:5:shuffle:1", "at most 3"},
      {"crc32c:1", "\"crc32c\" takes no parameters"},
      {"lz4:0", "lz4.acceleration must be"},
      {"bz2:0", "bz2.level must be 1..9, got 0"},
      {"xz:10", "xz.level must be 0..9, got 10"},
      {"GZIP:5", "unknown codec"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(CodeOf([&] { ParseCodecSpec(c.spec); }, &msg), ErrorCode::kInvalidArgument) << c.spec;
    EXPECT_NE(msg.find("codec spec \"" + c.spec + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.spec << ": " << msg;
  }
}

}  // namespace
}  // namespace volbatch
