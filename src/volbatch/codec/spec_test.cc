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

json Codec(const std::string& name, json config) {
  return {{"name", name}, {"configuration", config}};
}

TEST(ParseCodecSpec, FiltersComeFirstAndLeaveTheArrayTypeOpen) {
  const json zstd = Codec("zstd", {{"level", 3}, {"checksum", false}});
  EXPECT_EQ(ParseCodecSpec("delta+zstd:3"),
            json::array({Codec("numcodecs.delta", json::object()), zstd}));
  EXPECT_EQ(ParseCodecSpec("delta:u1"), One("numcodecs.delta", {{"astype", "u1"}}));
  EXPECT_EQ(ParseCodecSpec("shuffle"), One("numcodecs.shuffle", json::object()));
  EXPECT_EQ(ParseCodecSpec("shuffle:4"), One("numcodecs.shuffle", {{"elementsize", 4}}));
  EXPECT_EQ(ParseCodecSpec("fixedscaleoffset:1000:10:u1"),
            One("numcodecs.fixedscaleoffset", {{"offset", 1000}, {"scale", 10}, {"astype", "u1"}}));
  const json fso = ParseCodecSpec("fixedscaleoffset:-0.5:2.5")[0]["configuration"];
  EXPECT_TRUE(fso["offset"].is_number_float());
  EXPECT_EQ(fso["offset"].get<double>(), -0.5);
  EXPECT_EQ(fso["scale"].get<double>(), 2.5);
  EXPECT_EQ(ParseCodecSpec("quantize:3:f4"),
            One("numcodecs.quantize", {{"digits", 3}, {"astype", "f4"}}));
  EXPECT_EQ(ParseCodecSpec("bitround:10"), One("numcodecs.bitround", {{"keepbits", 10}}));
  EXPECT_EQ(ParseCodecSpec("packbits"), One("numcodecs.packbits", json::object()));
  EXPECT_EQ(ParseCodecSpec("astype:<f4"), One("numcodecs.astype", {{"encode_dtype", "<f4"}}));
  const json chain = ParseCodecSpec("delta+fixedscaleoffset:0:1+shuffle+blosc+crc32c");
  ASSERT_EQ(chain.size(), 5u);
  EXPECT_EQ(chain[2]["name"], "numcodecs.shuffle");
  EXPECT_EQ(chain[4]["name"], "crc32c");
  // Zarr v3 JSON parts may be filters too.
  EXPECT_EQ(ParseCodecSpec(R"({"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}}+gzip)")
                .at(0),
            Codec("numcodecs.delta", {{"dtype", "<i4"}}));
}

TEST(ParseCodecSpec, FilterErrorsNameTheFilter) {
  struct Case {
    std::string spec, needle;
  };
  const Case cases[] = {
      {"deltaa+zstd", "unknown codec \"deltaa\""},
      {"foo", "delta[:astype]"},  // the list of what is known names the filters
      {"zstd+delta", "array filter \"numcodecs.delta\" after the bytes codec \"zstd\""},
      {"crc32c+shuffle+bitround:3", "after the bytes codec \"crc32c\""},
      {"fixedscaleoffset:1", "needs offset, scale, astype"},
      {"fixedscaleoffset", "got no offset"},
      {"fixedscaleoffset:a:1", "fixedscaleoffset offset \"a\" is not a finite number"},
      {"fixedscaleoffset:1:inf", "is not a finite number"},
      {"fixedscaleoffset:1:2:u1:u2", "\"fixedscaleoffset\" takes at most 3"},
      {"delta:u9", "delta astype"},
      {"delta:int", "delta astype"},
      {"quantize", "got no digits"},
      {"quantize:x", "quantize digits \"x\" is not an integer"},
      {"bitround", "got no keepbits"},
      {"packbits:1", "\"packbits\" takes no parameters"},
      {"astype", "got no encode_dtype"},
      {"shuffle:x", "shuffle elementsize"},
      {R"({"name": "numcodecs.delta", "configuration": 3})", "\"configuration\" must be an object"},
      {R"({"name": "bytes"})", "\"bytes\" is not a filter or bytes->bytes codec"},
  };
  for (const Case& c : cases) {
    std::string msg;
    const ErrorCode code = CodeOf([&] { ParseCodecSpec(c.spec); }, &msg);
    EXPECT_TRUE(code == ErrorCode::kInvalidArgument || code == ErrorCode::kUnsupported) << c.spec;
    EXPECT_NE(msg.find("codec spec \"" + c.spec + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.spec << ": " << msg;
  }
}

TEST(ParseCodecSpec, WithADTypeChecksTheFiltersAgainstIt) {
  EXPECT_NO_THROW(ParseCodecSpec("bitround:10+zstd", DataType::kFloat32));
  EXPECT_NO_THROW(ParseCodecSpec("packbits+zstd", DataType::kBool));
  EXPECT_NO_THROW(ParseCodecSpec("delta:i1+zstd", DataType::kInt32));
  struct Case {
    std::string spec;
    DataType dtype;
    std::string needle;
  };
  const Case cases[] = {
      {"bitround:3+zstd", DataType::kInt32, "numcodecs.bitround: bitround needs float elements"},
      {"bitround:30", DataType::kFloat16, "\"keepbits\" 30 exceeds"},
      {"packbits", DataType::kUint8, "packbits needs bool elements, got |u1"},
      {"quantize:2", DataType::kInt16, "quantize takes float types only"},
      {"delta", DataType::kBool, "delta filter on booleans"},
      {"packbits+astype:u2", DataType::kBool, "follows a filter that changes the element count"},
      {R"({"name": "numcodecs.delta", "configuration": {"dtype": "<i2"}})", DataType::kInt32,
       "element size differs"},
  };
  for (const Case& c : cases) {
    std::string msg;
    const ErrorCode code = CodeOf([&] { ParseCodecSpec(c.spec, c.dtype); }, &msg);
    EXPECT_TRUE(code == ErrorCode::kInvalidArgument || code == ErrorCode::kUnsupported) << c.spec;
    EXPECT_NE(msg.find("codec spec \"" + c.spec + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.spec << ": " << msg;
  }
}

TEST(ResolveCodecSpec, FillsWhatTheArrayDecides) {
  const Zarr2DType u2{DataType::kUint16, false};
  const json zstd = Codec("zstd", {{"level", 3}, {"checksum", false}});
  EXPECT_EQ(ResolveCodecSpec(ParseCodecSpec("delta+shuffle+zstd:3"), u2),
            json::array({Codec("numcodecs.delta", {{"dtype", "<u2"}, {"astype", "<u2"}}),
                         Codec("numcodecs.shuffle", {{"elementsize", 2}}), zstd}));
  // Big-endian Zarr v2 arrays: the filter reads the chunk in the array's byte order.
  EXPECT_EQ(ResolveCodecSpec(ParseCodecSpec("delta"), Zarr2DType{DataType::kUint16, true}),
            One("numcodecs.delta", {{"dtype", ">u2"}, {"astype", ">u2"}}));
  // Each filter is given the type the one before it encodes to.
  const json chain = ResolveCodecSpec(ParseCodecSpec("fixedscaleoffset:100:10:u1+delta+shuffle"),
                                      {DataType::kFloat32, false});
  EXPECT_EQ(chain[0]["configuration"]["dtype"], "<f4");
  EXPECT_EQ(chain[0]["configuration"]["astype"], "|u1");
  EXPECT_EQ(chain[1]["configuration"]["dtype"], "|u1");
  EXPECT_EQ(chain[2]["configuration"]["elementsize"], 1);
  EXPECT_EQ(ResolveCodecSpec(ParseCodecSpec("astype:f4"), {DataType::kFloat64, false}),
            One("numcodecs.astype", {{"encode_dtype", "<f4"}, {"decode_dtype", "<f8"}}));
  const json q = ResolveCodecSpec(ParseCodecSpec("quantize:2"), {DataType::kFloat64, false});
  EXPECT_EQ(q[0]["configuration"]["dtype"], "<f8");
  // Given fields stay; bare names and other codecs pass through.
  EXPECT_EQ(ResolveCodecSpec(ParseCodecSpec("shuffle:8"), u2)[0]["configuration"]["elementsize"],
            8);
  EXPECT_EQ(ResolveCodecSpec(json::array({"gzip"}), u2), json::array({"gzip"}));
  EXPECT_EQ(ResolveCodecSpec(json::array(), u2), json::array());
}

TEST(ResolveCodecSpec, ErrorsNameTheCodecsEntry) {
  std::string msg;
  EXPECT_EQ(CodeOf([&] { ResolveCodecSpec(ParseCodecSpec("gzip+bitround:3"), {}); }, &msg),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("after the bytes codec \"gzip\""), std::string::npos) << msg;
  EXPECT_EQ(CodeOf([&] { ResolveCodecSpec(ParseCodecSpec("zstd+bitround:3"), {}); }, &msg),
            ErrorCode::kInvalidArgument);
  CodeOf(
      [&] {
        ResolveCodecSpec(ParseCodecSpec("delta+bitround:3"), {DataType::kInt8, false});
      },
      &msg);
  EXPECT_NE(msg.find("codecs[1] numcodecs.bitround"), std::string::npos) << msg;
  EXPECT_EQ(CodeOf([&] { ResolveCodecSpec(json::array({3}), {}); }, &msg),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace volbatch
