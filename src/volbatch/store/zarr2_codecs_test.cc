#include "volbatch/store/zarr2_codecs.h"

#include <gtest/gtest.h>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;

TEST(Zarr2Codecs, NumcodecsToV3) {
  EXPECT_EQ(NumcodecsToV3({{"id", "gzip"}, {"level", 1}}, 2, "c"),
            json({{"name", "gzip"}, {"configuration", {{"level", 1}}}}));
  EXPECT_EQ(NumcodecsToV3({{"id", "zlib"}}, 2, "c"),
            json({{"name", "zlib"}, {"configuration", {{"level", 1}}}}));
  EXPECT_EQ(NumcodecsToV3({{"id", "zstd"}, {"level", 5}, {"checksum", true}}, 2, "c"),
            json({{"name", "zstd"}, {"configuration", {{"level", 5}, {"checksum", true}}}}));
  EXPECT_EQ(NumcodecsToV3({{"id", "bz2"}, {"level", 9}}, 2, "c"),
            json({{"name", "bz2"}, {"configuration", {{"level", 9}}}}));
  EXPECT_EQ(NumcodecsToV3({{"id", "lz4"}, {"acceleration", 1}}, 2, "c"),
            json({{"name", "lz4"}, {"configuration", {{"acceleration", 1}}}}));
  EXPECT_EQ(NumcodecsToV3({{"id", "crc32c"}}, 2, "c"),
            json({{"name", "crc32c"}, {"configuration", json::object()}}));
  EXPECT_EQ(
      NumcodecsToV3(
          {{"id", "lzma"}, {"format", 1}, {"check", -1}, {"preset", nullptr}, {"filters", nullptr}},
          2, "c"),
      json({{"name", "xz"}, {"configuration", {{"level", 6}}}}));
  // Python's lzma.PRESET_EXTREME only changes how hard the compressor tries.
  EXPECT_EQ(NumcodecsToV3({{"id", "lzma"}, {"preset", (int64_t{1} << 31) | 9}}, 2, "c"),
            json({{"name", "xz"}, {"configuration", {{"level", 9}}}}));
}

TEST(Zarr2Codecs, BloscShuffle) {
  const json base = {{"id", "blosc"}, {"cname", "zstd"}, {"clevel", 3}, {"blocksize", 0}};
  auto shuffle = [&](int s, size_t typesize) {
    json c = base;
    c["shuffle"] = s;
    const json v3 = NumcodecsToV3(c, typesize, "c");
    EXPECT_EQ(v3["configuration"]["typesize"], typesize);
    EXPECT_EQ(v3["configuration"]["cname"], "zstd");
    EXPECT_EQ(v3["configuration"]["clevel"], 3);
    return v3["configuration"]["shuffle"].get<std::string>();
  };
  EXPECT_EQ(shuffle(0, 4), "noshuffle");
  EXPECT_EQ(shuffle(1, 4), "shuffle");
  EXPECT_EQ(shuffle(2, 4), "bitshuffle");
  EXPECT_EQ(shuffle(-1, 4), "shuffle");
  EXPECT_EQ(shuffle(-1, 1), "bitshuffle");
}

void ExpectError(const json& config, ErrorCode code, const std::string& needle) {
  try {
    NumcodecsToV3(config, 2, "compressor in x/.zarray");
    ADD_FAILURE() << config.dump() << " translated";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x/.zarray"), std::string::npos) << e.what();
  }
}

TEST(Zarr2Codecs, Errors) {
  ExpectError({{"id", "zfpy"}}, ErrorCode::kUnsupported, "zfpy");
  ExpectError({{"id", "lzma"}, {"format", 2}}, ErrorCode::kUnsupported, "format");
  ExpectError({{"id", "crc32c"}, {"location", "start"}}, ErrorCode::kUnsupported, "start");
  ExpectError({{"id", "gzip"}, {"level", "high"}}, ErrorCode::kInvalidArgument, "level");
  ExpectError({{"id", "blosc"}, {"shuffle", 7}}, ErrorCode::kInvalidArgument, "shuffle");
  ExpectError({{"level", 1}}, ErrorCode::kInvalidArgument, "id");
  ExpectError(json::array(), ErrorCode::kInvalidArgument, "id");
}

bool Registered(const char* name) { return KindOfCodec(name) == CodecKind::kBytesToBytes; }

TEST(Zarr2Codecs, V3ToNumcodecsSpellsOutSettings) {
  if (!Registered("zstd") || !Registered("blosc") || !Registered("xz")) {
    GTEST_SKIP() << "compressors not registered yet";
  }
  EXPECT_EQ(V3ToNumcodecs({{"name", "zstd"}, {"configuration", {{"level", 7}}}}, "c"),
            json({{"id", "zstd"}, {"level", 7}}));
  EXPECT_EQ(
      V3ToNumcodecs(
          {{"name", "blosc"},
           {"configuration", {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "bitshuffle"}}}},
          "c"),
      json({{"id", "blosc"}, {"cname", "lz4"}, {"clevel", 5}, {"shuffle", 2}, {"blocksize", 0}}));
  EXPECT_EQ(
      V3ToNumcodecs({{"name", "xz"}, {"configuration", {{"level", 4}}}}, "c"),
      json({{"id", "lzma"}, {"format", 1}, {"check", -1}, {"preset", 4}, {"filters", nullptr}}));
  // Round trip through both translations.
  for (const char* name : {"gzip", "zlib", "zstd", "bz2", "lz4", "xz", "crc32c"}) {
    const json v3 = V3ToNumcodecs(json(name), "c");
    EXPECT_EQ(V3ToNumcodecs(NumcodecsToV3(v3, 2, "c"), "c"), v3) << name;
  }
}

TEST(Zarr2Codecs, V3ToNumcodecsRejectsOtherKinds) {
  for (const char* name : {"bytes", "sharding_indexed", "no_such_codec"}) {
    try {
      V3ToNumcodecs({{"name", name}}, "codecs[0]");
      ADD_FAILURE() << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("codecs[0]"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace volbatch
