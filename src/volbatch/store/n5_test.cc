#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/n5_block.h"
#include "volbatch/store/n5_compression.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

Array RandomArray(DataType dtype, const Shape& shape, std::mt19937_64& rng) {
  Array a(dtype, shape);
  for (auto& b : a.bytes()) b = std::byte(rng() & 0xff);
  if (dtype == DataType::kFloat32 || dtype == DataType::kFloat64) {
    // Keep floats finite so failures print readably; bytes are compared either way.
    VisitDataType(dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_floating_point_v<T>) {
        std::uniform_real_distribution<double> d(-1e6, 1e6);
        for (Index i = 0; i < a.num_elements(); ++i) a.data_as<T>()[i] = static_cast<T>(d(rng));
      }
    });
  }
  return a;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void WriteFile(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

std::string Be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
std::string Be16(uint16_t v) { return {char(v >> 8), char(v & 0xff)}; }

// A header for C-order dims (written x first).
std::string Header(const Shape& dims, uint16_t mode = 0, std::optional<uint32_t> count = {}) {
  std::string h = Be16(mode) + Be16(static_cast<uint16_t>(dims.size()));
  for (size_t i = dims.size(); i-- > 0;) h += Be32(static_cast<uint32_t>(dims[i]));
  if (count) h += Be32(*count);
  return h;
}

// Big-endian elements of a C-order uint16 array.
std::string BeU16(const std::vector<uint16_t>& v) {
  std::string s;
  for (uint16_t x : v) s += Be16(x);
  return s;
}

bool CodecAvailable(const std::string& name, const json& config = json::object()) {
  try {
    MakeBytesCodec(name, config);
    return true;
  } catch (const Error&) {
    return false;
  }
}

template <typename F>
std::string ErrorOf(ErrorCode code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "\"" << (haystack) << "\" does not contain \"" << (needle) << "\""

class N5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("volbatch_n5_test_" + std::to_string(::getpid())) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }

  std::string Path(const std::string& rel) const { return (dir_ / rel).string(); }

  Dataset Make(const std::string& rel, DataType dtype, Shape shape, Shape chunks,
               json codecs = json::array()) {
    CreateOptions o;
    o.format = "n5";
    o.shape = std::move(shape);
    o.chunks = std::move(chunks);
    o.dtype = dtype;
    o.codecs = std::move(codecs);
    return Dataset::Create(Path(rel), o);
  }

  json Attrs(const std::string& rel) {
    return json::parse(ReadFile(dir_ / rel / "attributes.json"));
  }

  fs::path dir_;
  std::mt19937_64 rng_{42};
};

TEST_F(N5Test, RoundTripRanks1To5) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{37}, {8}},
      {{13, 17}, {4, 5}},
      {{7, 9, 11}, {3, 4, 5}},
      {{3, 5, 4, 6}, {2, 2, 3, 4}},
      {{2, 3, 4, 3, 5}, {1, 2, 3, 2, 2}},
  };
  for (const auto& [shape, chunks] : cases) {
    SCOPED_TRACE(ShapeToString(shape));
    const std::string rel = "r" + std::to_string(shape.size()) + ".n5/a";
    const Array data = RandomArray(DataType::kUint16, shape, rng_);
    {
      Dataset ds = Make(rel, DataType::kUint16, shape, chunks);
      ds.Write(Box::FromShape(shape), data);
    }
    Dataset ds = Dataset::Open(Path(rel));
    EXPECT_EQ(ds.format(), "n5");
    EXPECT_EQ(ds.shape(), shape);
    EXPECT_EQ(ds.layout().chunks, chunks);
    EXPECT_EQ(ds.Read(Box::FromShape(shape)), data);
    Shape begin(shape.size()), sub(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
      begin[i] = shape[i] / 3;
      sub[i] = shape[i] - begin[i] - shape[i] / 4;
    }
    EXPECT_EQ(ds.Read(Box(begin, sub)), data.Slice(Box(begin, sub)));
    // N5 stores dimensions and block sizes x first.
    const json attrs = Attrs(rel);
    EXPECT_EQ(attrs["dimensions"], json(Shape(shape.rbegin(), shape.rend())));
    EXPECT_EQ(attrs["blockSize"], json(Shape(chunks.rbegin(), chunks.rend())));
  }
}

TEST_F(N5Test, AllDataTypes) {
  const Shape shape{5, 6, 7}, chunks{2, 4, 3};
  for (DataType t : {DataType::kUint8, DataType::kUint16, DataType::kUint32, DataType::kUint64,
                     DataType::kInt8, DataType::kInt16, DataType::kInt32, DataType::kInt64,
                     DataType::kFloat32, DataType::kFloat64}) {
    const std::string name(DataTypeName(t));
    SCOPED_TRACE(name);
    const Array data = RandomArray(t, shape, rng_);
    Make(name + ".n5/x", t, shape, chunks).Write(Box::FromShape(shape), data);
    EXPECT_EQ(Attrs(name + ".n5/x")["dataType"], name);
    Dataset ds = Dataset::Open(Path(name + ".n5/x"));
    EXPECT_EQ(ds.dtype(), t);
    EXPECT_EQ(ds.Read(Box::FromShape(shape)), data);
  }
}

TEST_F(N5Test, UnsupportedDataTypesAreRefused) {
  for (DataType t : {DataType::kBool, DataType::kFloat16}) {
    EXPECT_CONTAINS(ErrorOf(ErrorCode::kInvalidArgument, [&] { Make("t.n5/a", t, {4}, {2}); }),
                    DataTypeName(t));
  }
}

TEST_F(N5Test, BlockBytesAreHeaderPlusBigEndianXFastest) {
  Dataset ds = Make("b.n5/a", DataType::kUint16, {2, 3, 4}, {2, 3, 4});
  Array a(DataType::kUint16, {2, 3, 4});
  std::vector<uint16_t> values;
  for (Index i = 0; i < 24; ++i) {
    a.data_as<uint16_t>()[i] = static_cast<uint16_t>(0x0100 + i);
    values.push_back(static_cast<uint16_t>(0x0100 + i));
  }
  ds.Write(Box::FromShape({2, 3, 4}), a);
  // x is the fastest axis both in C order (z, y, x) and in N5's x-first dims, so the element
  // order is the same; only the dims are reversed.
  EXPECT_EQ(ReadFile(dir_ / "b.n5/a/0/0/0"), Header({2, 3, 4}) + BeU16(values));
}

TEST_F(N5Test, ChunkKeysAreReversedGridIndices) {
  Dataset ds = Make("k.n5/a", DataType::kUint8, {4, 6, 8}, {2, 2, 2});
  Array one(DataType::kUint8, {1, 1, 1});
  one.data()[0] = std::byte{7};
  ds.Write(Box({2, 4, 6}, {1, 1, 1}), one);  // unit (z=1, y=2, x=3)
  EXPECT_EQ(ds.driver().UnitKey({1, 2, 3}), "3/2/1");
  EXPECT_TRUE(fs::exists(dir_ / "k.n5/a/3/2/1"));
  EXPECT_EQ(ds.kvstore().List(""), (std::vector<std::string>{"3/2/1", "attributes.json"}));
}

TEST_F(N5Test, EdgeBlocksAreWrittenTruncated) {
  Dataset ds = Make("e.n5/a", DataType::kUint16, {5, 7}, {4, 4});
  std::vector<uint16_t> v(35);
  Array a(DataType::kUint16, {5, 7});
  for (size_t i = 0; i < v.size(); ++i) a.data_as<uint16_t>()[i] = v[i] = uint16_t(i + 1);
  ds.Write(Box::FromShape({5, 7}), a);
  // Unit (1, 1) covers rows 4..4 and columns 4..6: dims (x first) [3, 1].
  EXPECT_EQ(ReadFile(dir_ / "e.n5/a/1/1"), Header({1, 3}) + BeU16({v[32], v[33], v[34]}));
  EXPECT_EQ(ReadFile(dir_ / "e.n5/a/0/1").size(), 12 + 1 * 4 * 2u);
  EXPECT_EQ(ReadFile(dir_ / "e.n5/a/1/0").size(), 12 + 4 * 3 * 2u);
  EXPECT_EQ(Dataset::Open(Path("e.n5/a")).Read(Box::FromShape({5, 7})), a);
}

TEST_F(N5Test, FullSizeEdgeBlocksAreRead) {
  Dataset ds = Make("f.n5/a", DataType::kUint16, {5, 7}, {4, 4});
  // zarr-python's N5Store pads edge blocks to the full block size; the padding is not data.
  std::vector<uint16_t> block(16);
  for (size_t i = 0; i < 16; ++i) block[i] = uint16_t(100 + i);
  WriteFile(dir_ / "f.n5/a/1/1", Header({4, 4}) + BeU16(block));
  Array got = ds.Read(Box({4, 4}, {1, 3}));
  EXPECT_EQ(got.data_as<uint16_t>()[0], 100);
  EXPECT_EQ(got.data_as<uint16_t>()[2], 102);
  // A partial write rewrites the block truncated and keeps the old values.
  Array one(DataType::kUint16, {1, 1});
  one.data_as<uint16_t>()[0] = 9;
  ds.Write(Box({4, 5}, {1, 1}), one);
  EXPECT_EQ(ReadFile(dir_ / "f.n5/a/1/1"), Header({1, 3}) + BeU16({100, 9, 102}));
}

TEST_F(N5Test, SmallerBlocksReadAsZeroPadded) {
  // A block written before the dataset grew is smaller than the current extent.
  Dataset ds = Make("g.n5/a", DataType::kUint16, {4, 4}, {4, 4});
  WriteFile(dir_ / "g.n5/a/0/0", Header({2, 3}) + BeU16({1, 2, 3, 4, 5, 6}));
  Array got = ds.Read(Box::FromShape({4, 4}));
  const uint16_t* p = got.data_as<uint16_t>();
  EXPECT_EQ(std::vector<uint16_t>(p, p + 16),
            (std::vector<uint16_t>{1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_F(N5Test, VarlengthBlocksAreRead) {
  Dataset ds = Make("v.n5/a", DataType::kUint16, {2, 3}, {2, 3});
  WriteFile(dir_ / "v.n5/a/0/0", Header({2, 3}, 1, 6) + BeU16({1, 2, 3, 4, 5, 6}));
  Array got = ds.Read(Box::FromShape({2, 3}));
  const uint16_t* p = got.data_as<uint16_t>();
  EXPECT_EQ(std::vector<uint16_t>(p, p + 6), (std::vector<uint16_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(N5Test, CorruptBlocksAreDataLossNamingTheKey) {
  Dataset ds = Make("c.n5/a", DataType::kUint16, {4, 6}, {4, 6});
  const std::string key_path = (dir_ / "c.n5/a/0/0").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short", std::string("\0\0\0", 3)},
      {"unknown mode", Header({4, 6}, 7)},
      {"object mode", Header({4, 6}, 2)},
      {"wrong rank", Header({1, 4, 6})},
      {"truncated dims", Header({4, 6}).substr(0, 9)},
      {"huge dims", Be16(0) + Be16(2) + Be32(0xffffffff) + Be32(0xffffffff)},
      {"dims past block size", Header({5, 6}) + std::string(60, '\1')},
      {"truncated payload", Header({4, 6}) + std::string(47, '\1')},
      {"overlong payload", Header({4, 6}) + std::string(49, '\1')},
      {"varlength count lies", Header({4, 6}, 1, 1000000) + std::string(48, '\1')},
      {"truncated varlength count", Header({4, 6}, 1).substr(0, 13)},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    WriteFile(key_path, bytes);
    const std::string msg = ErrorOf(ErrorCode::kDataLoss, [&] { ds.Read(Box::FromShape({4, 6})); });
    EXPECT_CONTAINS(msg, key_path);
    // A partial write reads the block first and must fail the same way.
    ErrorOf(ErrorCode::kDataLoss, [&] {
      ds.Write(Box({0, 0}, {1, 1}), Array(DataType::kUint16, {1, 1}));
    });
  }
}

TEST_F(N5Test, RandomRegionsMatchAnInMemoryModel) {
  const Shape shape{19, 23, 17}, chunks{5, 6, 4};
  Dataset ds = Make("m.n5/a", DataType::kInt32, shape, chunks);
  Array model(DataType::kInt32, shape);
  auto random_box = [&] {
    Box b(Shape(3), Shape(3));
    for (size_t i = 0; i < 3; ++i) {
      const Index x0 = static_cast<Index>(rng_() % (shape[i] + 1));
      const Index x1 = static_cast<Index>(rng_() % (shape[i] + 1));
      b.begin[i] = std::min(x0, x1);
      b.shape[i] = std::max(x0, x1) - b.begin[i];
    }
    return b;
  };
  for (int step = 0; step < 60; ++step) {
    const Box w = random_box();
    // Every fourth write is zeros, which erases blocks that become all fill value.
    Array data = step % 4 == 3 ? Array(DataType::kInt32, w.shape)
                               : RandomArray(DataType::kInt32, w.shape, rng_);
    ds.Write(w, data);
    CopyRegion(data, Shape(3, 0), model, w.begin, w.shape);
    const Box r = random_box();
    ASSERT_EQ(ds.Read(r), model.Slice(r)) << "step " << step << " read " << r.ToString();
  }
  EXPECT_EQ(Dataset::Open(Path("m.n5/a")).Read(Box::FromShape(shape)), model);
  // Blocks that hold only zeros do not exist.
  for (const auto& key : ds.kvstore().List("")) {
    if (key == "attributes.json") continue;
    Shape idx(3);
    size_t pos = 0;
    for (size_t i = 3; i-- > 0;) {
      const size_t slash = key.find('/', pos);
      idx[i] = std::stoll(key.substr(pos, slash - pos));
      pos = slash + 1;
    }
    Box unit(Shape{idx[0] * 5, idx[1] * 6, idx[2] * 4}, chunks);
    unit = Intersect(unit, Box::FromShape(shape));
    EXPECT_FALSE(model.Slice(unit).AllEqual({})) << key;
  }
}

TEST_F(N5Test, AllZeroBlocksAreNotStored) {
  Dataset ds = Make("z.n5/a", DataType::kUint8, {4, 4}, {2, 2});
  ds.Write(Box::FromShape({4, 4}), Array(DataType::kUint8, {4, 4}));
  EXPECT_EQ(ds.kvstore().List(""), std::vector<std::string>{"attributes.json"});
  Array ones = Array::Filled(DataType::kUint8, {4, 4}, std::vector<std::byte>{std::byte{1}});
  ds.Write(Box::FromShape({4, 4}), ones);
  EXPECT_EQ(ds.kvstore().List("").size(), 5u);
  ds.Write(Box({0, 0}, {2, 2}), Array(DataType::kUint8, {2, 2}));
  EXPECT_FALSE(fs::exists(dir_ / "z.n5/a/0/0"));
  EXPECT_EQ(ds.kvstore().List("").size(), 4u);
}

TEST_F(N5Test, MissingDimensionsNamesTheFieldAndFile) {
  WriteFile(dir_ / "d.n5/a/attributes.json",
            R"({"blockSize": [2, 2], "dataType": "uint8", "compression": {"type": "raw"}})");
  const std::string msg =
      ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Open(Path("d.n5/a")); });
  EXPECT_CONTAINS(msg, "\"dimensions\"");
  EXPECT_CONTAINS(msg, (dir_ / "d.n5/a/attributes.json").string());
}

TEST_F(N5Test, BadAttributesNameTheField) {
  const std::string base = R"("dimensions": [4, 6], "blockSize": [2, 3], "dataType": "uint8")";
  const std::vector<std::tuple<std::string, ErrorCode, std::string>> cases = {
      {R"({"dimensions": [4, 6], "blockSize": [2, 3]})", ErrorCode::kInvalidArgument,
       "\"dataType\""},
      {R"({"dimensions": [4, 6], "blockSize": [2, 3], "dataType": "complex64"})",
       ErrorCode::kInvalidArgument, "complex64"},
      {R"({"dimensions": [4, 6], "blockSize": [2, 3], "dataType": "float16"})",
       ErrorCode::kInvalidArgument, "float16"},
      {R"({"dimensions": [4, 6], "blockSize": [2], "dataType": "uint8"})",
       ErrorCode::kInvalidArgument, "\"blockSize\""},
      {R"({"dimensions": [4, 6], "blockSize": [0, 3], "dataType": "uint8"})",
       ErrorCode::kInvalidArgument, "\"blockSize\"[0]"},
      {R"({"dimensions": [-4, 6], "blockSize": [2, 3], "dataType": "uint8"})",
       ErrorCode::kInvalidArgument, "\"dimensions\"[0]"},
      {R"({"dimensions": [4, 6.5], "blockSize": [2, 3], "dataType": "uint8"})",
       ErrorCode::kInvalidArgument, "\"dimensions\"[1]"},
      {R"({"dimensions": [4, 6], "blockSize": [2147483647, 2147483647], "dataType": "uint8"})",
       ErrorCode::kInvalidArgument, "\"blockSize\""},
      {"{" + base + R"(, "compression": {"type": "snappy"}})", ErrorCode::kUnsupported,
       "compression.type"},
      {"{" + base + R"(, "compression": {"type": "gzip", "level": 12}})",
       ErrorCode::kInvalidArgument, "compression.level"},
      {"{" + base + R"(, "compression": {"level": 1}})", ErrorCode::kInvalidArgument,
       "compression.type"},
      {"{" + base + R"(, "compressionType": 3})", ErrorCode::kInvalidArgument, "compressionType"},
      {R"({"dimensions": [4, 6], )", ErrorCode::kInvalidArgument, "invalid JSON"},
  };
  for (const auto& [text, code, needle] : cases) {
    SCOPED_TRACE(text);
    WriteFile(dir_ / "bad.n5/a/attributes.json", text);
    const std::string msg = ErrorOf(code, [&] { Dataset::Open(Path("bad.n5/a")); });
    EXPECT_CONTAINS(msg, needle);
    EXPECT_CONTAINS(msg, "attributes.json");
  }
}

TEST_F(N5Test, GroupsAndRootAttributesAreCreated) {
  Make("c.n5/a/b/arr", DataType::kUint8, {4}, {2});
  EXPECT_EQ(Attrs("c.n5"), (json{{"n5", "4.0.0"}}));
  EXPECT_EQ(Attrs("c.n5/a"), json::object());
  EXPECT_EQ(Attrs("c.n5/a/b"), json::object());
  // Groups are not datasets.
  EXPECT_FALSE(Dataset::Exists(Path("c.n5/a")));
  EXPECT_TRUE(Dataset::Exists(Path("c.n5/a/b/arr")));
  // Existing root and group attributes are kept.
  WriteFile(dir_ / "d.n5/attributes.json", R"({"owner": "me"})");
  WriteFile(dir_ / "d.n5/g/attributes.json", R"({"note": 1})");
  Make("d.n5/g/arr", DataType::kUint8, {4}, {2});
  EXPECT_EQ(Attrs("d.n5"), (json{{"owner", "me"}, {"n5", "4.0.0"}}));
  EXPECT_EQ(Attrs("d.n5/g"), (json{{"note", 1}}));
}

TEST_F(N5Test, DatasetAtTheContainerRoot) {
  Make("root.n5", DataType::kUint8, {4}, {2});
  const json attrs = Attrs("root.n5");
  EXPECT_EQ(attrs["n5"], "4.0.0");
  EXPECT_EQ(attrs["dimensions"], json({4}));
  Dataset ds = Dataset::Open(Path("root.n5"));
  EXPECT_EQ(ds.shape(), Shape{4});
  EXPECT_EQ(ds.driver().Attributes(), json::object());
}

TEST_F(N5Test, UserAttributesLiveBesideTheMetadata) {
  CreateOptions o;
  o.format = "n5";
  o.shape = {4, 5};
  o.chunks = {2, 2};
  o.attributes = {{"resolution", {4, 4}}, {"unit", "nm"}};
  Dataset::Create(Path("u.n5/a"), o);
  Dataset ds = Dataset::Open(Path("u.n5/a"));
  EXPECT_EQ(ds.driver().Attributes(), o.attributes);
  const json meta = ds.driver().Metadata();
  EXPECT_EQ(meta["dimensions"], json({5, 4}));
  EXPECT_EQ(meta["unit"], "nm");
  const json info = ds.Info();
  EXPECT_EQ(info["format"], "n5");
  EXPECT_EQ(info["shape"], json({4, 5}));
  EXPECT_EQ(info["attributes"], o.attributes);
  EXPECT_EQ(ds.driver().CodecSummary(), "n5 block header | bytes(big)");
  o.attributes = {{"dataType", "uint8"}};
  EXPECT_CONTAINS(
      ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Create(Path("u2.n5/a"), o); }),
      "dataType");
}

TEST_F(N5Test, LegacyCompressionTypeIsRead) {
  WriteFile(dir_ / "l.n5/a/attributes.json",
            R"({"dimensions": [3, 2], "blockSize": [3, 2], "dataType": "uint16",)"
            R"( "compressionType": "raw"})");
  WriteFile(dir_ / "l.n5/a/0/0", Header({2, 3}) + BeU16({1, 2, 3, 4, 5, 6}));
  Array got = Dataset::Open(Path("l.n5/a")).Read(Box::FromShape({2, 3}));
  EXPECT_EQ(got.data_as<uint16_t>()[5], 6);
}

TEST_F(N5Test, CreateOptionsN5CannotExpressAreRefused) {
  CreateOptions o;
  o.format = "n5";
  o.shape = {4};
  o.chunks = {2};
  o.codecs = json::array({{{"name", "gzip"}, {"configuration", {{"level", 5}}}},
                          {{"name", "zstd"}, {"configuration", {{"level", 3}}}}});
  std::string msg =
      ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Create(Path("o1.n5/a"), o); });
  EXPECT_CONTAINS(msg, "gzip, zstd");
  o.codecs = json::array({{{"name", "crc32c"}}});
  msg = ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Create(Path("o2.n5/a"), o); });
  EXPECT_CONTAINS(msg, "crc32c");
  o.codecs = json::array();
  o.shards = Shape{4};
  ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Create(Path("o3.n5/a"), o); });
  o.shards.reset();
  o.fill_value = 5;
  msg = ErrorOf(ErrorCode::kInvalidArgument, [&] { Dataset::Create(Path("o4.n5/a"), o); });
  EXPECT_CONTAINS(msg, "fill");
  o.fill_value = 0;
  Dataset::Create(Path("o5.n5/a"), o);
  // Nothing is written for a refused dataset.
  for (const char* p : {"o1.n5", "o2.n5", "o3.n5", "o4.n5"})
    EXPECT_FALSE(fs::exists(dir_ / p)) << p;
}

struct CompressedCase {
  std::string codec;
  json configuration;
  json n5;  // the expected "compression" object
};

TEST_F(N5Test, CompressedRoundTrips) {
  const std::vector<CompressedCase> cases = {
      {"gzip", {{"level", 5}}, {{"type", "gzip"}, {"level", 5}, {"useZlib", false}}},
      {"zlib", {{"level", 1}}, {{"type", "gzip"}, {"level", 1}, {"useZlib", true}}},
      {"bz2", {{"level", 3}}, {{"type", "bzip2"}, {"blockSize", 3}}},
      {"xz", {{"level", 2}}, {{"type", "xz"}, {"preset", 2}}},
      {"n5_lz4", json::object(), {{"type", "lz4"}, {"blockSize", 65536}}},
      {"lz4", json::object(), {{"type", "lz4"}, {"blockSize", 65536}}},
      {"zstd", {{"level", 7}}, {{"type", "zstd"}, {"level", 7}}},
      {"blosc",
       {{"cname", "zstd"}, {"clevel", 4}, {"shuffle", "bitshuffle"}},
       {{"type", "blosc"},
        {"cname", "zstd"},
        {"clevel", 4},
        {"shuffle", 2},
        {"blocksize", 0},
        {"nthreads", 1}}},
  };
  const Shape shape{9, 10, 11}, chunks{4, 4, 4};
  int tested = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.codec);
    if (!CodecAvailable(c.codec == "lz4" ? "n5_lz4" : c.codec)) {
      std::cout << "codec " << c.codec << " not registered yet; skipped\n";
      continue;
    }
    ++tested;
    const std::string rel = c.codec + ".n5/a";
    Array data = RandomArray(DataType::kUint16, shape, rng_);
    // Compressible: a quarter of the elements, and a whole block, are zeros.
    for (Index i = 0; i < data.num_elements(); i += 4) data.data_as<uint16_t>()[i] = 0;
    Dataset ds = Make(rel, DataType::kUint16, shape, chunks,
                      json::array({{{"name", c.codec}, {"configuration", c.configuration}}}));
    ds.Write(Box::FromShape(shape), data);
    EXPECT_EQ(Attrs(rel)["compression"], c.n5);
    Dataset back = Dataset::Open(Path(rel));
    EXPECT_EQ(back.Read(Box::FromShape(shape)), data);
    EXPECT_EQ(back.Read(Box({1, 2, 3}, {5, 5, 5})), data.Slice(Box({1, 2, 3}, {5, 5, 5})));
    EXPECT_CONTAINS(back.driver().CodecSummary(), c.codec == "lz4" ? "n5_lz4" : c.codec);
    // A truncated compressed block is DataLoss naming the key.
    const fs::path block = dir_ / rel / "0/0/0";
    const std::string bytes = ReadFile(block);
    WriteFile(block, bytes.substr(0, bytes.size() - 5));
    const std::string msg = ErrorOf(ErrorCode::kDataLoss, [&] {
      back.Read(Box({0, 0, 0}, {1, 1, 1}));
    });
    EXPECT_CONTAINS(msg, block.string());
  }
  if (tested == 0) GTEST_SKIP() << "no compression codec registered yet";
}

}  // namespace
}  // namespace volbatch
