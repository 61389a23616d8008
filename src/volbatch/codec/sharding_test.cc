#include "volbatch/codec/sharding.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using json = nlohmann::json;

bool HaveCodec(const std::string& name) { return KindOfCodec(name) != CodecKind::kUnknown; }

json BytesJson(const std::string& endian = "little") {
  return {{"name", "bytes"}, {"configuration", {{"endian", endian}}}};
}

json Config(const Shape& inner, json codecs, json index_codecs, const std::string& location) {
  return {{"chunk_shape", inner},
          {"codecs", std::move(codecs)},
          {"index_codecs", std::move(index_codecs)},
          {"index_location", location}};
}

std::shared_ptr<const ShardingCodec> Make(const json& config) {
  auto c = std::dynamic_pointer_cast<const ShardingCodec>(
      MakeArrayToBytesCodec("sharding_indexed", config));
  EXPECT_TRUE(c);
  return c;
}

template <typename T>
Array Random(DataType dtype, const Shape& shape, uint64_t seed, int max = 1000) {
  Array a(dtype, shape);
  std::mt19937_64 rng(seed);
  T* p = a.data_as<T>();
  for (Index i = 0; i < a.num_elements(); ++i) p[i] = static_cast<T>(rng() % max);
  return a;
}

// Fills the box with `v` (T elements).
template <typename T>
void FillBox(Array& a, const Box& box, T v) {
  Array part = Array::Filled(a.dtype(), box.shape,
                             std::span(reinterpret_cast<const std::byte*>(&v), sizeof(T)));
  CopyRegion(part, Shape(a.rank(), 0), a, box.begin, box.shape);
}

template <typename T>
Bytes FillBytes(T v) {
  Bytes b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

uint64_t ReadU64(const Bytes& b, size_t pos) {
  uint64_t v;
  std::memcpy(&v, b.data() + pos, 8);
  return v;
}

void ExpectCode(ErrorCode code, const std::function<void()>& f, const std::string& needle = "") {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    if (!needle.empty()) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

class ShardingLocation : public ::testing::TestWithParam<std::string> {};

TEST_P(ShardingLocation, RoundTripWithEmptyInnerChunks) {
  auto codec =
      Make(Config({2, 3, 4}, json::array({BytesJson()}), json::array({BytesJson()}), GetParam()));
  ChunkSpec spec{DataType::kUint16, {4, 6, 8}, FillBytes<uint16_t>(7)};
  Array shard = Random<uint16_t>(spec.dtype, spec.shape, 1);
  FillBox<uint16_t>(shard, Box({0, 0, 0}, {2, 3, 4}), 7);  // inner chunk [0, 0, 0]
  FillBox<uint16_t>(shard, Box({2, 3, 4}, {2, 3, 4}), 7);  // inner chunk [1, 1, 1]
  const Bytes enc = codec->Encode(shard, spec);
  // 8 inner chunks, 2 empty: 6 * 24 elements * 2 bytes of data plus 8 * 16 bytes of index.
  EXPECT_EQ(codec->IndexSize(spec.shape), 128u);
  ASSERT_EQ(enc.size(), 6u * 48 + 128);
  EXPECT_EQ(codec->Decode(enc, spec), shard);

  const size_t index_pos = GetParam() == "end" ? enc.size() - 128 : 0;
  for (size_t i : {size_t{0}, size_t{7}}) {
    EXPECT_EQ(ReadU64(enc, index_pos + 16 * i), kShardEntryEmpty);
    EXPECT_EQ(ReadU64(enc, index_pos + 16 * i + 8), kShardEntryEmpty);
  }
  for (size_t i = 1; i < 7; ++i) {
    EXPECT_EQ(ReadU64(enc, index_pos + 16 * i + 8), 48u);
    const uint64_t off = ReadU64(enc, index_pos + 16 * i);
    if (GetParam() == "start") {
      EXPECT_GE(off, 128u);
    }
    EXPECT_LE(off + 48, GetParam() == "end" ? enc.size() - 128 : enc.size());
  }

  // The accessors the driver uses for partial reads agree with a whole decode.
  const ByteView index = ByteView(enc).subspan(index_pos, 128);
  auto entries = codec->DecodeIndex(index, spec.shape, enc.size());
  ASSERT_EQ(entries.size(), 8u);
  const Shape grid = codec->InnerGrid(spec.shape);
  EXPECT_EQ(grid, (Shape{2, 2, 2}));
  const auto& e = entries[5];  // inner chunk [1, 0, 1]
  Array inner = codec->DecodeInnerChunk(ByteView(enc).subspan(e.offset, e.nbytes),
                                        codec->InnerSpec(spec), grid, 5);
  EXPECT_EQ(inner, shard.Slice(Box({2, 0, 4}, {2, 3, 4})));
}

// A region read decodes no more of each inner chunk than it needs: uncompressed inner chunks
// are copied from the shard's bytes, a blosc one partly inside decodes only its slab, and a
// zstd one (which cannot decode a range) decodes whole; every answer equals the whole decode.
TEST(Sharding, InnerRegionsDecodeOnlyWhatTheyNeed) {
  using D = ShardingCodec::InnerDecode;
  const ChunkSpec spec{DataType::kUint16, {32, 32, 32}, FillBytes<uint16_t>(0)};
  const Array shard = Random<uint16_t>(spec.dtype, spec.shape, 3, 8);  // compressible
  const Box part({1, 5, 7}, {5, 10, 8});  // inside inner chunk [0, 0, 0], touching no edge
  const Box whole = Box::FromShape({16, 16, 16});
  struct Case {
    const char* codec;
    D part, whole;
  };
  for (const Case c : {Case{"raw", D::kAsIs, D::kAsIs}, Case{"blosc", D::kRegion, D::kWhole},
                       Case{"zstd", D::kWhole, D::kWhole}}) {
    SCOPED_TRACE(c.codec);
    json inner = json::array({BytesJson()});
    if (std::string(c.codec) == "blosc") {
      if (!HaveCodec("blosc")) continue;
      // 4 KiB blocks: a 16^3 uint16 inner chunk (8 KiB) is two; slices 1 to 5 lie in the first.
      inner.push_back({{"name", "blosc"},
                       {"configuration",
                        {{"cname", "lz4"},
                         {"clevel", 1},
                         {"shuffle", "shuffle"},
                         {"typesize", 2},
                         {"blocksize", 4096}}}});
    } else if (std::string(c.codec) == "zstd") {
      if (!HaveCodec("zstd")) continue;
      inner.push_back({{"name", "zstd"}, {"configuration", {{"level", 1}}}});
    }
    auto codec = Make(Config({16, 16, 16}, inner, json::array({BytesJson()}), "end"));
    const Bytes enc = codec->Encode(shard, spec);
    const Shape grid = codec->InnerGrid(spec.shape);
    const size_t index_size = codec->IndexSize(spec.shape);
    const auto entries =
        codec->DecodeIndex(ByteView(enc).subspan(enc.size() - index_size), spec.shape, enc.size());
    const ByteView first = ByteView(enc).subspan(entries[0].offset, entries[0].nbytes);
    Array out(spec.dtype, part.shape);
    EXPECT_EQ(codec->DecodeInnerRegionInto(first, codec->InnerSpec(spec), grid, 0, part, out,
                                           Shape{0, 0, 0}),
              c.part);
    EXPECT_EQ(out, shard.Slice(part));
    Array all(spec.dtype, whole.shape);
    EXPECT_EQ(codec->DecodeInnerRegionInto(first, codec->InnerSpec(spec), grid, 0, whole, all,
                                           Shape{0, 0, 0}),
              c.whole);
    EXPECT_EQ(all, shard.Slice(whole));
    EXPECT_EQ(codec->Decode(enc, spec), shard);
  }
}

TEST_P(ShardingLocation, GoldenBytes) {
  // uint8 [4] in inner chunks of 2, fill 0: chunk 0 = {1, 2}, chunk 1 empty.
  auto codec =
      Make(Config({2}, json::array({BytesJson()}), json::array({BytesJson()}), GetParam()));
  ChunkSpec spec{DataType::kUint8, {4}, {std::byte{0}}};
  Array shard(DataType::kUint8, {4});
  shard.data_as<uint8_t>()[0] = 1;
  shard.data_as<uint8_t>()[1] = 2;
  Bytes index(32, std::byte{0});
  const uint64_t offset = GetParam() == "end" ? 0 : 32;
  const uint64_t nbytes = 2;
  std::memcpy(index.data(), &offset, 8);
  std::memcpy(index.data() + 8, &nbytes, 8);
  std::memset(index.data() + 16, 0xff, 16);
  Bytes expected = {std::byte{1}, std::byte{2}};
  if (GetParam() == "end") {
    expected.insert(expected.end(), index.begin(), index.end());
  } else {
    expected.insert(expected.begin(), index.begin(), index.end());
  }
  EXPECT_EQ(codec->Encode(shard, spec), expected);
  EXPECT_EQ(codec->Decode(expected, spec), shard);
}

TEST_P(ShardingLocation, AllEmptyShardIsOnlyTheIndex) {
  auto codec =
      Make(Config({2, 2}, json::array({BytesJson()}), json::array({BytesJson()}), GetParam()));
  ChunkSpec spec{DataType::kFloat32, {4, 4}, FillBytes<float>(1.5f)};
  Array shard = Array::Filled(spec.dtype, spec.shape, spec.fill_value);
  const Bytes enc = codec->Encode(shard, spec);
  EXPECT_EQ(enc, Bytes(64, std::byte{0xff}));
  EXPECT_EQ(codec->Decode(enc, spec), shard);
}

TEST_P(ShardingLocation, Crc32cIndexAndCompressedInnerChunks) {
  if (!HaveCodec("crc32c")) GTEST_SKIP() << "crc32c codec not built yet";
  json inner = json::array({BytesJson("big")});
  for (const char* c : {"zstd", "gzip"}) {
    if (HaveCodec(c)) inner.push_back({{"name", c}, {"configuration", {{"level", 1}}}});
  }
  auto codec =
      Make(Config({3, 5}, inner, json::array({BytesJson(), {{"name", "crc32c"}}}), GetParam()));
  ChunkSpec spec{DataType::kInt32, {9, 10}, FillBytes<int32_t>(0)};
  Array shard = Random<int32_t>(spec.dtype, spec.shape, 3, 4);
  FillBox<int32_t>(shard, Box({3, 5}, {3, 5}), 0);
  EXPECT_EQ(codec->IndexSize(spec.shape), 6u * 16 + 4);
  Bytes enc = codec->Encode(shard, spec);
  EXPECT_EQ(codec->Decode(enc, spec), shard);

  // A flipped bit in the index fails the checksum.
  const size_t index_pos = GetParam() == "end" ? enc.size() - 100 : 0;
  enc[index_pos + 3] ^= std::byte{0x10};
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(enc, spec); }, "shard index");
}

INSTANTIATE_TEST_SUITE_P(Sharding, ShardingLocation, ::testing::Values("end", "start"));

TEST(Sharding, CorruptIndexIsDataLoss) {
  auto codec = Make(Config({2}, json::array({BytesJson()}), json::array({BytesJson()}), "end"));
  ChunkSpec spec{DataType::kUint8, {4}, {std::byte{0}}};
  Array shard = Random<uint8_t>(DataType::kUint8, {4}, 5, 200);
  shard.data_as<uint8_t>()[0] = 1;
  shard.data_as<uint8_t>()[2] = 1;
  const Bytes good = codec->Encode(shard, spec);
  ASSERT_EQ(good.size(), 4u + 32);

  auto with_entry = [&](size_t i, uint64_t offset, uint64_t nbytes) {
    Bytes b = good;
    std::memcpy(b.data() + 4 + 16 * i, &offset, 8);
    std::memcpy(b.data() + 4 + 16 * i + 8, &nbytes, 8);
    return b;
  };
  // Offset + nbytes overflows 64 bits.
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(with_entry(1, kShardEntryEmpty - 1, 5), spec); },
      "inner chunk [1]");
  // Past the end of the shard.
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(with_entry(0, 30, 10), spec); }, "inner chunk [0]");
  // Only half of the empty marker.
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(with_entry(0, kShardEntryEmpty, 2), spec); },
      "inner chunk [0]");
  // Wrong length for the inner chunk's bytes codec.
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(with_entry(1, 0, 3), spec); }, "inner chunk [1]");
  // Shorter than the index.
  ExpectCode(
      ErrorCode::kDataLoss, [&] { codec->Decode(ByteView(good).subspan(0, 20), spec); }, "index");
  // Without the shard size (a partial read) the overflow is still caught.
  Bytes overflow = with_entry(1, kShardEntryEmpty - 1, 5);
  ExpectCode(ErrorCode::kDataLoss,
             [&] { codec->DecodeIndex(ByteView(overflow).subspan(4), spec.shape, std::nullopt); });
  ExpectCode(ErrorCode::kDataLoss,
             [&] { codec->DecodeIndex(ByteView(good).subspan(5), spec.shape, std::nullopt); });
}

TEST(Sharding, NestedSharding) {
  json inner_sharding = {{"name", "sharding_indexed"},
                         {"configuration", Config({2, 2}, json::array({BytesJson("big")}),
                                                  json::array({BytesJson()}), "start")}};
  auto codec =
      Make(Config({4, 4}, json::array({inner_sharding}), json::array({BytesJson()}), "end"));
  ChunkSpec spec{DataType::kFloat64, {8, 12}, FillBytes<double>(0)};
  Array shard = Random<double>(spec.dtype, spec.shape, 9);
  FillBox<double>(shard, Box({0, 0}, {4, 4}), 0);
  FillBox<double>(shard, Box({4, 6}, {2, 2}), 0);
  const Bytes enc = codec->Encode(shard, spec);
  EXPECT_EQ(codec->Decode(enc, spec), shard);
}

TEST(Sharding, JsonRoundTrip) {
  const json config =
      Config({2, 3}, json::array({BytesJson("big")}), json::array({BytesJson()}), "start");
  auto codec = Make(config);
  const json j = codec->ToJson();
  EXPECT_EQ(j["name"], "sharding_indexed");
  EXPECT_EQ(j["configuration"], config);
  EXPECT_EQ(Make(j["configuration"])->ToJson(), j);
  // index_location defaults to "end".
  json no_location = config;
  no_location.erase("index_location");
  EXPECT_TRUE(Make(no_location)->index_at_end());
  // As part of a chain.
  CodecChain chain = CodecChain::FromJson(json::array({j}), "test");
  EXPECT_EQ(chain.ToJson(), json::array({j}));
}

TEST(Sharding, BadConfiguration) {
  const json good = Config({2, 2}, json::array({BytesJson()}), json::array({BytesJson()}), "end");
  for (const char* field : {"chunk_shape", "codecs", "index_codecs"}) {
    json c = good;
    c.erase(field);
    ExpectCode(
        ErrorCode::kInvalidArgument, [&] { Make(c); }, field);
  }
  json c = good;
  c["index_location"] = "middle";
  ExpectCode(
      ErrorCode::kInvalidArgument, [&] { Make(c); }, "index_location");
  c = good;
  c["chunk_shape"] = {2, 0};
  ExpectCode(
      ErrorCode::kInvalidArgument, [&] { Make(c); }, "chunk_shape");
  c = good;
  c["extra"] = 1;
  ExpectCode(
      ErrorCode::kInvalidArgument, [&] { Make(c); }, "extra");
  c = good;
  c["codecs"] = json::array({BytesJson(), {{"name", "no_such_codec"}}});
  ExpectCode(
      ErrorCode::kUnsupported, [&] { Make(c); }, "no_such_codec");

  // An inner chunk shape that does not divide the shard, or of another rank.
  auto codec = Make(good);
  ChunkSpec spec{DataType::kUint8, {4, 5}, {std::byte{0}}};
  ExpectCode(
      ErrorCode::kInvalidArgument,
      [&] {
        codec->Encode(Array(DataType::kUint8, {4, 5}), spec);
      },
      "does not divide");
  spec.shape = {4};
  ExpectCode(
      ErrorCode::kInvalidArgument, [&] { codec->Decode(Bytes(100), spec); }, "rank");
}

TEST(Sharding, VariableSizeIndexCodecsAreRejected) {
  if (!HaveCodec("gzip")) GTEST_SKIP() << "gzip codec not built yet";
  auto codec = Make(Config(
      {2}, json::array({BytesJson()}),
      json::array({BytesJson(), {{"name", "gzip"}, {"configuration", {{"level", 5}}}}}), "end"));
  ExpectCode(
      ErrorCode::kInvalidArgument, [&] { codec->IndexSize({64}); }, "index_codecs");
}

}  // namespace
}  // namespace volbatch
