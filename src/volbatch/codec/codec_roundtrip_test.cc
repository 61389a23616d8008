// Round trips, exact decode bounds, truncation, trailing garbage and random mutations for every
// bytes->bytes codec and several configurations, dtypes and sizes.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "volbatch/codec/codec_test_util.h"

namespace volbatch {
namespace {

using nlohmann::json;
using testing::ByteSpec;
using testing::CodeOf;
using testing::Spec;
using testing::TestData;

struct Config {
  std::string name;
  json configuration;
  bool checksummed;  // every corruption of the payload must be detected
};

std::string Label(const Config& c) { return c.name + " " + c.configuration.dump(); }

const std::vector<Config>& Configs() {
  static const std::vector<Config> configs = {
      {"gzip", {{"level", 0}}, true},
      {"gzip", {{"level", 1}}, true},
      {"gzip", {{"level", 9}}, true},
      {"zlib", {{"level", 0}}, true},
      {"zlib", {{"level", 6}}, true},
      {"zstd", {{"level", 3}, {"checksum", false}}, false},
      {"zstd", {{"level", 1}, {"checksum", true}}, true},
      {"zstd", {{"level", -5}}, false},
      {"zstd", {{"level", 19}}, false},
      {"blosc", {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}}, false},
      {"blosc", {{"cname", "lz4hc"}, {"clevel", 9}, {"shuffle", "noshuffle"}}, false},
      {"blosc", {{"cname", "blosclz"}, {"clevel", 1}, {"shuffle", "bitshuffle"}}, false},
      {"blosc",
       {{"cname", "zstd"}, {"clevel", 3}, {"shuffle", "bitshuffle"}, {"typesize", 4}},
       false},
      {"blosc",
       {{"cname", "zlib"}, {"clevel", 0}, {"shuffle", "shuffle"}, {"blocksize", 4096}},
       false},
      {"crc32c", json::object(), true},
      {"bz2", {{"level", 1}}, true},
      {"bz2", {{"level", 9}}, true},
      {"xz", {{"level", 0}}, true},
      {"xz", {{"level", 6}}, true},
      {"lz4", {{"acceleration", 1}}, false},
      {"lz4", {{"acceleration", 20}}, false},
      {"n5_lz4", {{"blockSize", 64}}, true},
      {"n5_lz4", json::object(), true},
      {"numcodecs.zlib", {{"level", 1}}, true},
      {"numcodecs.zlib", {{"level", -1}}, true},
      {"numcodecs.gzip", {{"level", 9}}, true},
      {"numcodecs.gzip", {{"level", 0}}, true},
      {"numcodecs.bz2", {{"level", 1}}, true},
      {"numcodecs.lzma", {{"preset", 1}}, true},
      {"numcodecs.lzma", {{"preset", nullptr}, {"check", 0}}, false},
      {"numcodecs.zstd", {{"level", 1}}, false},
      {"numcodecs.zstd", {{"level", 3}, {"checksum", true}}, true},
      {"numcodecs.lz4", {{"acceleration", 1}}, false},
      {"numcodecs.blosc", {{"cname", "zstd"}, {"clevel", 3}, {"shuffle", -1}}, false},
      {"numcodecs.blosc", {{"cname", "lz4"}, {"shuffle", 1}, {"typesize", 4}}, false},
      {"numcodecs.crc32", json::object(), true},
      {"numcodecs.crc32", {{"location", "end"}}, true},
      // Adler-32 misses some multi-byte changes (+1 and -1 at suitable distances).
      {"numcodecs.adler32", json::object(), false},
      {"numcodecs.fletcher32", json::object(), true},
  };
  return configs;
}

std::shared_ptr<const BytesCodec> Make(const Config& c) {
  return MakeBytesCodec(c.name, c.configuration);
}

TEST(BytesCodecs, AllRegistered) {
  const auto names = RegisteredCodecNames();
  for (const char* n : {"gzip", "zlib", "zstd", "blosc", "crc32c", "bz2", "xz", "lz4", "n5_lz4",
                        "transpose", "bytes"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  EXPECT_EQ(KindOfCodec("transpose"), CodecKind::kArrayToArray);
  EXPECT_EQ(KindOfCodec("n5_lz4"), CodecKind::kBytesToBytes);
}

TEST(BytesCodecs, ToJsonRebuildsTheSameCodec) {
  for (const Config& c : Configs()) {
    SCOPED_TRACE(Label(c));
    const json j = Make(c)->ToJson();
    ASSERT_EQ(j["name"], c.name);
    const json config = j.contains("configuration") ? j["configuration"] : json::object();
    EXPECT_EQ(MakeBytesCodec(c.name, config)->ToJson(), j);
  }
}

TEST(BytesCodecs, RoundTripDtypesAndSizes) {
  const std::vector<DataType> dtypes = {DataType::kUint8, DataType::kUint16, DataType::kFloat32,
                                        DataType::kFloat64};
  const std::vector<Index> counts = {0, 1, 7, 1000, 20000};
  for (const Config& c : Configs()) {
    auto codec = Make(c);
    for (DataType dt : dtypes) {
      for (Index count : counts) {
        for (bool smooth : {true, false}) {
          SCOPED_TRACE(Label(c) + " " + std::string(DataTypeName(dt)) + " x" +
                       std::to_string(count) + (smooth ? " smooth" : " random"));
          const ChunkSpec spec = Spec(dt, {count});
          const Bytes raw = TestData(spec.num_bytes(), count + 3, smooth);
          const Bytes enc = codec->Encode(raw, spec);
          EXPECT_EQ(codec->Decode(enc, raw.size(), spec), raw);
          EXPECT_EQ(codec->Decode(enc, raw.size() + 12345, spec), raw);
          if (!raw.empty()) {
            // The bound is exact: one byte less is refused.
            EXPECT_EQ(CodeOf([&] { codec->Decode(enc, raw.size() - 1, spec); }),
                      ErrorCode::kDataLoss);
          }
        }
      }
    }
  }
}

TEST(BytesCodecs, CompressibleDataShrinks) {
  const Bytes raw = TestData(1 << 16, 1, true);
  for (const Config& c : Configs()) {
    SCOPED_TRACE(Label(c));
    const Bytes enc = Make(c)->Encode(raw, ByteSpec(raw.size()));
    const bool checksum_only = c.name == "crc32c" || c.name == "numcodecs.crc32" ||
                               c.name == "numcodecs.adler32" || c.name == "numcodecs.fletcher32";
    const bool stores = checksum_only || c.configuration.value("level", 1) == 0 ||
                        c.configuration.value("clevel", 1) == 0 ||
                        c.configuration.value("blockSize", 65536) < 1024;  // 21 B per block
    if (!stores) {
      EXPECT_LT(enc.size(), raw.size() * 3 / 4);
    }
  }
}

TEST(BytesCodecs, TruncatedInputIsDataLoss) {
  const Bytes raw = TestData(5000, 2, true);
  const ChunkSpec spec = ByteSpec(raw.size());
  for (const Config& c : Configs()) {
    SCOPED_TRACE(Label(c));
    auto codec = Make(c);
    const Bytes enc = codec->Encode(raw, spec);
    for (size_t keep : {size_t{0}, size_t{1}, size_t{3}, enc.size() / 2, enc.size() - 1}) {
      SCOPED_TRACE("keep " + std::to_string(keep) + " of " + std::to_string(enc.size()));
      ByteView cut(enc.data(), keep);
      EXPECT_EQ(CodeOf([&] { codec->Decode(cut, raw.size(), spec); }), ErrorCode::kDataLoss);
    }
  }
}

// Except blosc, whose frame records its own length: numcodecs ignores what follows it (below).
TEST(BytesCodecs, TrailingGarbageIsDataLoss) {
  const Bytes raw = TestData(5000, 3, true);
  const ChunkSpec spec = ByteSpec(raw.size());
  for (const Config& c : Configs()) {
    if (c.name.find("blosc") != std::string::npos) continue;
    SCOPED_TRACE(Label(c));
    auto codec = Make(c);
    Bytes enc = codec->Encode(raw, spec);
    enc.push_back(std::byte{0xAB});
    EXPECT_EQ(CodeOf([&] { codec->Decode(enc, raw.size() + 100, spec); }), ErrorCode::kDataLoss);
  }
}

// Codecs with a checksum never return wrong data: a flipped bit either decodes to the same
// bytes (some bits of a compressed stream do not matter) or is DataLoss.
TEST(BytesCodecs, ChecksummedCodecsNeverReturnWrongData) {
  const Bytes raw = TestData(5000, 4, true);
  const ChunkSpec spec = ByteSpec(raw.size());
  for (const Config& c : Configs()) {
    if (!c.checksummed) continue;
    SCOPED_TRACE(Label(c));
    auto codec = Make(c);
    const Bytes enc = codec->Encode(raw, spec);
    int detected = 0;
    for (size_t at = 0; at < enc.size(); at += 1 + enc.size() / 64) {
      Bytes bad = enc;
      bad[at] ^= std::byte{0x10};
      try {
        EXPECT_EQ(codec->Decode(bad, raw.size(), spec), raw) << "flip at " << at;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
        ++detected;
      }
    }
    EXPECT_GT(detected, 32);
  }
}

// Random mutations: a decoder either returns at most max_decoded bytes or throws DataLoss;
// it never crashes, hangs or throws anything else.
TEST(BytesCodecs, RandomMutationsNeverEscapeTheContract) {
  std::mt19937_64 rng(12345);
  for (const Config& c : Configs()) {
    SCOPED_TRACE(Label(c));
    auto codec = Make(c);
    for (bool smooth : {true, false}) {
      const Bytes raw = TestData(3000, smooth ? 5 : 6, smooth);
      const ChunkSpec spec = ByteSpec(raw.size());
      const Bytes enc = codec->Encode(raw, spec);
      for (int trial = 0; trial < 300; ++trial) {
        Bytes bad = enc;
        const int kind = static_cast<int>(rng() % 4);
        if (kind == 0 || bad.empty()) {
          bad.resize(rng() % (enc.size() + 1));
        } else {
          const int flips = 1 + static_cast<int>(rng() % 4);
          for (int k = 0; k < flips; ++k) {
            const size_t at =
                kind == 1 ? rng() % std::min<size_t>(bad.size(), 32) : rng() % bad.size();
            bad[at] = kind == 3 ? static_cast<std::byte>(rng()) : bad[at] ^ std::byte{1};
          }
        }
        try {
          const Bytes out = codec->Decode(bad, raw.size(), spec);
          EXPECT_LE(out.size(), raw.size());
          if (c.checksummed) {
            EXPECT_EQ(out, raw);
          }
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kDataLoss) << e.what();
        }
      }
    }
  }
}

TEST(BytesCodecs, ThreadsShareNothing) {
  const Bytes raw = TestData(100000, 7, true);
  const ChunkSpec spec = ByteSpec(raw.size());
  auto work = [&](int seed) {
    for (int round = 0; round < 3; ++round) {
      for (const Config& c : Configs()) {
        auto codec = Make(c);
        Bytes data = raw;
        data[static_cast<size_t>(seed)] = std::byte{0xEE};
        if (codec->Decode(codec->Encode(data, spec), raw.size(), spec) != data) return false;
      }
    }
    return true;
  };
  bool ok1 = false, ok2 = false;
  std::thread t([&] { ok1 = work(1); });
  ok2 = work(2);
  t.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
}

TEST(BytesCodecs, BloscTypesizeDefaultsToTheDtype) {
  auto codec = MakeBytesCodec("blosc", {{"cname", "lz4"}, {"shuffle", "shuffle"}});
  EXPECT_FALSE(codec->ToJson()["configuration"].contains("typesize"));
  const ChunkSpec spec = Spec(DataType::kFloat64, {100});
  const Bytes raw = TestData(spec.num_bytes(), 8, true);
  const Bytes enc = codec->Encode(raw, spec);
  EXPECT_EQ(std::to_integer<int>(enc[3]), 8);  // header byte 3: typesize
  EXPECT_EQ(codec->Decode(enc, raw.size(), spec), raw);
}

// z5py wrote blosc chunk files with a few bytes after the frame; numcodecs reads them.
TEST(BytesCodecs, BloscIgnoresBytesAfterTheFrame) {
  auto codec = MakeBytesCodec("blosc", {{"cname", "zstd"}, {"shuffle", "shuffle"}});
  const ChunkSpec spec = Spec(DataType::kUint16, {5000});
  const Bytes raw = TestData(spec.num_bytes(), 9, true);
  Bytes enc = codec->Encode(raw, spec);
  const size_t frame = enc.size();
  enc.resize(frame + 16, std::byte{0xAB});
  EXPECT_EQ(codec->Decode(enc, raw.size(), spec), raw);
  const auto part = codec->DecodeRange(enc, 2000, 4000, raw.size(), spec);
  ASSERT_TRUE(part);
  EXPECT_EQ(*part, Bytes(raw.begin() + 2000, raw.begin() + 6000));
  // Truncation is still an error, named by the frame's own length.
  std::string message;
  EXPECT_EQ(
      CodeOf([&] { codec->Decode(ByteView(enc).first(frame - 1), raw.size(), spec); }, &message),
      ErrorCode::kDataLoss);
  EXPECT_EQ(message, "blosc: header says " + std::to_string(frame) + " compressed bytes, got " +
                         std::to_string(frame - 1));
}

}  // namespace
}  // namespace volbatch
