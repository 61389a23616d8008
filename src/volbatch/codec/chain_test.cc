// CodecChain::FromJson with the codecs of this layer.
#include <gtest/gtest.h>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::CodeOf;
using testing::Spec;

Array Ramp(DataType dt, const Shape& shape) {
  Array a(dt, shape);
  VisitDataType(dt, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_arithmetic_v<T>) {
      T* p = a.data_as<T>();
      for (Index i = 0; i < a.num_elements(); ++i) p[i] = static_cast<T>((i * 7) % 1000);
    }
    return 0;
  });
  return a;
}

TEST(CodecChain, TransposeBytesZstdCrc32cRoundTrip) {
  const json codecs = json::parse(R"([
    {"name": "transpose", "configuration": {"order": [2, 0, 1]}},
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "zstd", "configuration": {"level": 5, "checksum": true}},
    {"name": "crc32c"}
  ])");
  const CodecChain chain = CodecChain::FromJson(codecs, "test/zarr.json");
  EXPECT_EQ(chain.ToJson(), codecs);
  for (DataType dt : {DataType::kUint16, DataType::kFloat32, DataType::kInt64}) {
    const ChunkSpec spec = Spec(dt, {6, 10, 14});
    const Array a = Ramp(dt, spec.shape);
    const Bytes enc = chain.Encode(a, spec);
    EXPECT_LT(enc.size(), spec.num_bytes());
    EXPECT_EQ(chain.Decode(enc, spec), a);
    Bytes bad = enc;
    bad[bad.size() / 2] ^= std::byte{0x40};
    EXPECT_EQ(CodeOf([&] { chain.Decode(bad, spec); }), ErrorCode::kDataLoss);
  }
}

TEST(CodecChain, EveryBytesCodecInAChain) {
  const ChunkSpec spec = Spec(DataType::kUint16, {8, 9, 10});
  const Array a = Ramp(spec.dtype, spec.shape);
  for (const std::string s :
       {"gzip:6", "zlib:1", "zstd:3", "lz4", "bz2:9", "xz:6", "blosc:lz4:5:shuffle",
        "blosc:zstd:3:bitshuffle", "crc32c", "gzip:1+crc32c", "xz:1+zstd:1+crc32c"}) {
    json codecs = json::array({{{"name", "transpose"}, {"configuration", {{"order", {1, 2, 0}}}}},
                               {{"name", "bytes"}, {"configuration", {{"endian", "big"}}}}});
    for (const auto& c : ParseCodecSpec(s)) codecs.push_back(c);
    codecs.push_back({{"name", "n5_lz4"}, {"configuration", {{"blockSize", 256}}}});
    const CodecChain chain = CodecChain::FromJson(codecs, "test");
    EXPECT_EQ(chain.Decode(chain.Encode(a, spec), spec), a) << s;
  }
}

// Found by fuzz/roundtrip_fuzz.cc: a stream between two bytes codecs was bounded by the raw
// size plus an eighth, but n5_lz4 with small blocks stores incompressible data a third larger
// (21 header bytes per 64-byte block), so a chunk volbatch had just written could not be read.
TEST(CodecChain, StreamsBetweenBytesCodecsMayExpandMoreThanAnEighth) {
  const ChunkSpec spec = Spec(DataType::kUint8, {256, 256});
  Array a(spec.dtype, spec.shape);
  uint64_t x = 88172645463325252ull;  // incompressible: every lz4 block is stored raw
  for (Index i = 0; i < a.num_elements(); ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    a.data()[i] = static_cast<std::byte>(x);
  }
  const json n5_lz4 = {{"name", "n5_lz4"}, {"configuration", {{"blockSize", 64}}}};
  for (const json& codecs :
       {json::array({{{"name", "bytes"}}, n5_lz4, n5_lz4, n5_lz4}),
        json::array({{{"name", "bytes"}}, n5_lz4, {{"name", "gzip"}}}),
        json::array({{{"name", "sharding_indexed"},
                      {"configuration",
                       {{"chunk_shape", {128, 256}},
                        {"codecs", {{{"name", "bytes"}}, n5_lz4, {{"name", "crc32c"}}}},
                        {"index_codecs", {{{"name", "bytes"}}, {{"name", "crc32c"}}}}}}},
                     n5_lz4})}) {
    const CodecChain chain = CodecChain::FromJson(codecs, "test");
    const Bytes encoded = chain.Encode(a, spec);
    EXPECT_EQ(chain.Decode(encoded, spec), a) << codecs.dump();
    EXPECT_EQ(chain.DecodeOwned(Bytes(encoded), spec), a) << codecs.dump();
  }
}

TEST(CodecChain, MisplacedCodecsAreInvalid) {
  const json bytes = {{"name", "bytes"}, {"configuration", {{"endian", "little"}}}};
  const json zstd = {{"name", "zstd"}, {"configuration", {{"level", 3}}}};
  const json transpose = {{"name", "transpose"}, {"configuration", {{"order", {0}}}}};
  EXPECT_EQ(CodeOf([&] {
              CodecChain::FromJson(json::array({zstd, bytes}), "t");
            }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([&] {
              CodecChain::FromJson(json::array({bytes, transpose}), "t");
            }),
            ErrorCode::kInvalidArgument);
  std::string msg;
  EXPECT_EQ(
      CodeOf(
          [&] {
            CodecChain::FromJson(
                json::array({bytes, {{"name", "blosc"}, {"configuration", {{"clevel", 12}}}}}),
                "a/zarr.json");
          },
          &msg),
      ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("a/zarr.json: codecs[1]: blosc.clevel must be 0..9, got 12"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace volbatch
