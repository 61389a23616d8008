#include "volbatch/store/n5_compression.h"

#include <gtest/gtest.h>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {
using nlohmann::json;

N5Compression Parse(const json& compression, DataType t = DataType::kUint16) {
  return ParseN5Compression({{"compression", compression}}, t, "x/attributes.json");
}

TEST(N5Compression, ParsesEveryTypeWithJavaDefaults) {
  EXPECT_EQ(Parse({{"type", "raw"}}).codec, "");
  EXPECT_EQ(ParseN5Compression(json::object(), DataType::kUint8, "f").codec, "");

  auto c = Parse({{"type", "gzip"}});
  EXPECT_EQ(c.codec, "gzip");
  EXPECT_EQ(c.configuration, (json{{"level", 6}}));  // -1 is zlib's default, level 6
  c = Parse({{"type", "gzip"}, {"level", 2}, {"useZlib", true}});
  EXPECT_EQ(c.codec, "zlib");
  EXPECT_EQ(c.configuration, (json{{"level", 2}}));

  c = Parse({{"type", "bzip2"}});
  EXPECT_EQ(c.codec, "bz2");
  EXPECT_EQ(c.configuration, (json{{"level", 9}}));
  c = Parse({{"type", "xz"}, {"preset", 3}});
  EXPECT_EQ(c.codec, "xz");
  EXPECT_EQ(c.configuration, (json{{"level", 3}}));
  c = Parse({{"type", "lz4"}});
  EXPECT_EQ(c.codec, "n5_lz4");
  EXPECT_EQ(c.configuration, (json{{"blockSize", 65536}}));
  // zarr-python's dialect: numcodecs' LZ4 configuration and framing.
  c = Parse({{"type", "lz4"}, {"id", "lz4"}, {"acceleration", 1}});
  EXPECT_EQ(c.codec, "lz4");
  EXPECT_EQ(c.configuration, (json{{"acceleration", 1}}));
  c = Parse({{"type", "zstd"}, {"level", -5}});
  EXPECT_EQ(c.codec, "zstd");
  EXPECT_EQ(c.configuration, (json{{"level", -5}, {"checksum", false}}));
  c = Parse({{"type", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 2}, {"blocksize", 0}},
            DataType::kFloat64);
  EXPECT_EQ(c.codec, "blosc");
  EXPECT_EQ(c.configuration, (json{{"cname", "lz4"},
                                   {"clevel", 5},
                                   {"shuffle", "bitshuffle"},
                                   {"typesize", 8},
                                   {"blocksize", 0}}));
}

TEST(N5Compression, LegacyCompressionType) {
  auto c = ParseN5Compression({{"compressionType", "gzip"}}, DataType::kUint8, "f");
  EXPECT_EQ(c.codec, "gzip");
  // "compression" wins when both are present.
  c = ParseN5Compression({{"compressionType", "gzip"}, {"compression", {{"type", "raw"}}}},
                         DataType::kUint8, "f");
  EXPECT_EQ(c.codec, "");
}

TEST(N5Compression, BadParametersNameTheFieldAndFile) {
  for (const json& bad :
       {json{{"type", "gzip"}, {"level", "high"}}, json{{"type", "gzip"}, {"useZlib", 1}},
        json{{"type", "bzip2"}, {"blockSize", 0}}, json{{"type", "blosc"}, {"shuffle", 3}},
        json{{"level", 3}}, json("gzip")}) {
    SCOPED_TRACE(bad.dump());
    try {
      Parse(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("x/attributes.json: compression"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(Parse({{"type", "lzf"}}), Error);
}

TEST(N5Compression, FromCodecs) {
  EXPECT_EQ(N5CompressionFromCodecs(json::array()), (json{{"type", "raw"}}));
  EXPECT_EQ(
      N5CompressionFromCodecs(json::array({{{"name", "gzip"}, {"configuration", {{"level", 4}}}}})),
      (json{{"type", "gzip"}, {"level", 4}, {"useZlib", false}}));
  EXPECT_EQ(N5CompressionFromCodecs(json::array({"zlib"})),
            (json{{"type", "gzip"}, {"level", 6}, {"useZlib", true}}));
  EXPECT_EQ(
      N5CompressionFromCodecs(json::array({{{"name", "xz"}, {"configuration", {{"preset", 1}}}}})),
      (json{{"type", "xz"}, {"preset", 1}}));
  EXPECT_EQ(N5CompressionFromCodecs(json::array({{{"name", "bz2"}}})),
            (json{{"type", "bzip2"}, {"blockSize", 9}}));
  EXPECT_EQ(N5CompressionFromCodecs(json::array({{{"name", "zstd"}}})),
            (json{{"type", "zstd"}, {"level", 3}}));
  EXPECT_EQ(
      N5CompressionFromCodecs(json::array(
          {{{"name", "blosc"},
            {"configuration",
             {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "noshuffle"}, {"typesize", 2}}}}})),
      (json{{"type", "blosc"},
            {"cname", "lz4"},
            {"clevel", 5},
            {"shuffle", 0},
            {"blocksize", 0},
            {"nthreads", 1}}));
  for (const json& bad : {json::array({"crc32c"}), json::array({"gzip", "zstd"}),
                          json::array({{{"name", "gzip"}, {"configuration", {{"level", 11}}}}}),
                          json::array({{{"name", "blosc"}, {"configuration", {{"shuffle", "x"}}}}}),
                          json::array({42})}) {
    SCOPED_TRACE(bad.dump());
    EXPECT_THROW(N5CompressionFromCodecs(bad), Error);
  }
}

}  // namespace
}  // namespace volbatch
