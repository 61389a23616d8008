// The Zarr v2 driver through Dataset: every dtype and rank against an in-memory model, byte
// layouts checked on disk (order F, big endian, separators, edge chunks), groups, filters read
// from hand-built chunks, and the errors bad metadata must give.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/store/dataset.h"
#include "volbatch/store/fill_value.h"

namespace volbatch {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Zarr2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (!isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    dir_ = fs::temp_directory_path() / ("volbatch_zarr2_" + std::to_string(getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& rel) const { return (dir_ / rel).string(); }

  fs::path dir_;
};

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

void WriteFile(const std::string& path, const void* data, size_t size) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}
void WriteFile(const std::string& path, const std::string& s) {
  WriteFile(path, s.data(), s.size());
}
void WriteFile(const std::string& path, const Bytes& b) { WriteFile(path, b.data(), b.size()); }

json ReadJsonFile(const std::string& path) {
  const Bytes b = ReadFile(path);
  return json::parse(reinterpret_cast<const char*>(b.data()),
                     reinterpret_cast<const char*>(b.data()) + b.size());
}

template <typename T>
Bytes ToBytes(std::initializer_list<T> values, bool big = false) {
  Bytes b(values.size() * sizeof(T));
  std::memcpy(b.data(), values.begin(), b.size());
  if (big) SwapBytes(b, sizeof(T));
  return b;
}

template <typename T>
Array MakeArray(DataType t, Shape shape, std::initializer_list<T> values) {
  return Array::FromBytes(t, std::move(shape), ToBytes<T>(values));
}

Array RandomArray(DataType t, const Shape& shape, std::mt19937_64& rng) {
  Array a(t, shape);
  for (std::byte& b : a.bytes()) b = static_cast<std::byte>(rng() & 0xff);
  if (t == DataType::kBool) {
    for (std::byte& b : a.bytes()) b &= std::byte{1};
  }
  return a;
}

Box RandomBox(const Shape& shape, std::mt19937_64& rng) {
  Box box(Shape(shape.size()), Shape(shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {
    const Index lo = static_cast<Index>(rng() % static_cast<uint64_t>(shape[i]));
    const Index hi = lo + 1 + static_cast<Index>(rng() % static_cast<uint64_t>(shape[i] - lo));
    box.begin[i] = lo;
    box.shape[i] = hi - lo;
  }
  return box;
}

struct ModelCase {
  Shape shape;
  Shape chunks;
  DataType dtype = DataType::kUint8;
  json fill = nullptr;
  std::string order = "C";
  std::string separator = ".";
  std::string endian = "little";
  json codecs = json::array();
};

std::string Describe(const ModelCase& c) {
  return std::string(DataTypeName(c.dtype)) + " shape " + ShapeToString(c.shape) + " chunks " +
         ShapeToString(c.chunks) + " fill " + c.fill.dump() + " order " + c.order + " sep " +
         c.separator + " " + c.endian + " codecs " + c.codecs.dump();
}

// Random writes (some of them all fill value) and reads against a plain array; reopens the
// dataset now and then so metadata round-trips too. Finally checks which chunks are stored:
// exactly those not equal to the fill value inside the array.
void RunModel(const std::string& path, const ModelCase& c, uint64_t seed) {
  SCOPED_TRACE(Describe(c));
  CreateOptions o;
  o.format = "zarr2";
  o.shape = c.shape;
  o.chunks = c.chunks;
  o.dtype = c.dtype;
  o.fill_value = c.fill;
  o.order = c.order;
  o.dimension_separator = c.separator;
  o.endian = c.endian;
  o.codecs = c.codecs;
  Dataset ds = Dataset::Create(path, o);
  ASSERT_EQ(ds.format(), "zarr2");
  const Bytes fill = ParseFillValue(c.fill, c.dtype, "fill");
  Array model = Array::Filled(c.dtype, c.shape, fill);
  std::mt19937_64 rng(seed);
  for (int step = 0; step < 10; ++step) {
    const Box box = RandomBox(c.shape, rng);
    const Array data = step % 4 == 3 ? Array::Filled(c.dtype, box.shape, fill)
                                     : RandomArray(c.dtype, box.shape, rng);
    ds.Write(box, data);
    CopyRegion(data, Shape(box.rank(), 0), model, box.begin, box.shape);
    if (step % 3 == 2) ds = Dataset::Open(path);
    const Box read = RandomBox(c.shape, rng);
    ASSERT_EQ(ds.Read(read), model.Slice(read)) << "step " << step << " read " << read.ToString();
  }
  ds = Dataset::Open(path);
  ASSERT_EQ(ds.Read(Box::FromShape(c.shape)), model);
  const Box volume = Box::FromShape(c.shape);
  for (const Shape& idx : GridCells(volume, c.chunks)) {
    Shape origin(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) origin[i] = idx[i] * c.chunks[i];
    const Box inside = Intersect(Box(origin, c.chunks), volume);
    const bool stored = ds.kvstore().Get(ds.driver().UnitKey(idx)).has_value();
    EXPECT_EQ(stored, !model.Slice(inside).AllEqual(fill)) << "chunk " << ShapeToString(idx);
  }
}

const std::vector<DataType> kAllTypes = {
    DataType::kBool,   DataType::kInt8,    DataType::kInt16,   DataType::kInt32,
    DataType::kInt64,  DataType::kUint8,   DataType::kUint16,  DataType::kUint32,
    DataType::kUint64, DataType::kFloat16, DataType::kFloat32, DataType::kFloat64,
};

json FillFor(DataType t, int variant) {
  if (t == DataType::kBool) return variant % 2 ? json(true) : json(false);
  if (IsFloat(t)) {
    const json fills[] = {"NaN", "Infinity", "-Infinity", 1.5, 0.0, nullptr};
    return fills[variant % 6];
  }
  if (IsSigned(t)) return variant % 3 == 0 ? json(nullptr) : json(variant % 2 ? -3 : 7);
  return variant % 3 == 0 ? json(nullptr) : json(42);
}

// One test per dtype, so that ctest can run them side by side (chunk writes fsync).
class Zarr2TypeTest : public Zarr2Test, public ::testing::WithParamInterface<DataType> {};

TEST_P(Zarr2TypeTest, EveryRankAndOrderAgainstModel) {
  const std::vector<std::pair<Shape, Shape>> geometries = {
      {{37}, {8}},
      {{13, 9}, {4, 5}},
      {{5, 4, 6, 3}, {2, 3, 4, 2}},
      {{3, 4, 2, 5, 3}, {2, 3, 1, 2, 2}},
  };
  const DataType t = GetParam();
  int variant = static_cast<int>(t) * 8;
  for (const auto& [shape, chunks] : geometries) {
    for (const char* order : {"C", "F"}) {
      ModelCase c;
      c.shape = shape;
      c.chunks = chunks;
      c.dtype = t;
      c.fill = FillFor(t, variant);
      c.order = order;
      c.separator = variant % 2 ? "/" : ".";
      c.endian = (variant / 2) % 2 ? "big" : "little";
      RunModel(Path("a" + std::to_string(variant) + ".zarr"), c, 1000 + variant);
      if (HasFatalFailure()) return;
      ++variant;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Zarr2TypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const ::testing::TestParamInfo<DataType>& info) {
                           return std::string(DataTypeName(info.param));
                         });

TEST_F(Zarr2Test, CreatedMetadata) {
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {10, 20};
  o.chunks = {4, 8};
  o.dtype = DataType::kFloat32;
  o.fill_value = "NaN";
  o.order = "F";
  o.dimension_separator = ".";
  o.endian = "big";
  Dataset::Create(Path("m.zarr"), o);
  const json z = ReadJsonFile(Path("m.zarr/.zarray"));
  EXPECT_EQ(z, json({{"zarr_format", 2},
                     {"shape", {10, 20}},
                     {"chunks", {4, 8}},
                     {"dtype", ">f4"},
                     {"compressor", nullptr},
                     {"fill_value", "NaN"},
                     {"order", "F"},
                     {"filters", nullptr},
                     {"dimension_separator", "."}}));
  EXPECT_FALSE(fs::exists(Path("m.zarr/.zattrs")));
  Dataset ds = Dataset::Open(Path("m.zarr"));
  EXPECT_EQ(ds.Info()["metadata"], z);
  EXPECT_EQ(ds.Info()["fill_value"], "NaN");
  EXPECT_EQ(ds.Info()["codecs"], "order F | bytes(big)");

  o.dtype = DataType::kBool;
  o.fill_value = nullptr;
  o.endian = "big";
  o.overwrite = true;
  Dataset::Create(Path("m.zarr"), o);
  EXPECT_EQ(ReadJsonFile(Path("m.zarr/.zarray"))["dtype"], "|b1");
  EXPECT_EQ(ReadJsonFile(Path("m.zarr/.zarray"))["fill_value"], false);
}

TEST_F(Zarr2Test, FiltersFromTheCodecSpec) {
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {2, 3};
  o.chunks = {2, 3};
  o.dtype = DataType::kInt16;
  o.endian = "big";
  o.dimension_separator = ".";
  o.codecs = ParseCodecSpec("delta+shuffle", o.dtype);
  Dataset ds = Dataset::Create(Path("f.zarr"), o);
  // numcodecs' configurations, typed in the array's byte order; the last bytes codec is the
  // compressor (zarr-python takes any codec there).
  const json z = ReadJsonFile(Path("f.zarr/.zarray"));
  EXPECT_EQ(z["filters"], json::parse(R"([{"id": "delta", "dtype": ">i2", "astype": ">i2"}])"));
  EXPECT_EQ(z["compressor"], json({{"id", "shuffle"}, {"elementsize", 2}}));
  const Array a = MakeArray<int16_t>(DataType::kInt16, {2, 3}, {0, 1, 2, 3, 4, 300});
  ds.Write(Box::FromShape({2, 3}), a);
  // delta: 0 1 1 1 1 296 as big-endian int16; shuffle: the high bytes, then the low ones.
  EXPECT_EQ(ReadFile(Path("f.zarr/0.0")), ToBytes<uint8_t>({0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 40}));
  EXPECT_EQ(Dataset::Open(Path("f.zarr")).Read(Box::FromShape({2, 3})), a);
  EXPECT_EQ(ds.Info()["codecs"], "delta(>i2) | bytes(big) | numcodecs.shuffle(elementsize=2)");

  // The last bytes codec is the compressor, the filters before it stay in "filters".
  o.codecs = ParseCodecSpec("astype:i1+zstd:1", o.dtype);
  o.overwrite = true;
  Dataset::Create(Path("f.zarr"), o);
  const json y = ReadJsonFile(Path("f.zarr/.zarray"));
  EXPECT_EQ(y["filters"], json::parse(R"([{"id": "astype", "encode_dtype": "|i1",
                                           "decode_dtype": ">i2"}])"));
  EXPECT_EQ(y["compressor"], json({{"id", "zstd"}, {"level", 1}}));

  // A filter that does not fit the dtype is refused before anything is written.
  o.codecs = ParseCodecSpec("bitround:3");
  std::string msg;
  try {
    Dataset::Create(Path("g.zarr"), o);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("codecs[0] numcodecs.bitround: bitround needs float elements, got >i2"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(fs::exists(Path("g.zarr")));
}

TEST_F(Zarr2Test, OrderFAndBigEndianLayoutOnDisk) {
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {2, 3};
  o.chunks = {2, 3};
  o.dtype = DataType::kInt16;
  o.order = "F";
  o.dimension_separator = ".";
  Dataset ds = Dataset::Create(Path("f.zarr"), o);
  const Array a = MakeArray<int16_t>(DataType::kInt16, {2, 3}, {0, 1, 2, 3, 4, 5});
  ds.Write(Box::FromShape({2, 3}), a);
  EXPECT_EQ(ReadFile(Path("f.zarr/0.0")), ToBytes<int16_t>({0, 3, 1, 4, 2, 5}));

  o.endian = "big";
  o.order = "C";
  ds = Dataset::Create(Path("b.zarr"), o);
  ds.Write(Box::FromShape({2, 3}), a);
  EXPECT_EQ(ReadFile(Path("b.zarr/0.0")), ToBytes<int16_t>({0, 1, 2, 3, 4, 5}, true));
  EXPECT_EQ(Dataset::Open(Path("b.zarr")).Read(Box::FromShape({2, 3})), a);
}

TEST_F(Zarr2Test, SeparatorsAndEdgeChunksOnDisk) {
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {3, 5};
  o.chunks = {2, 4};
  o.dtype = DataType::kUint8;
  o.fill_value = 9;
  o.dimension_separator = "/";
  Dataset ds = Dataset::Create(Path("s.zarr"), o);
  ds.Write(Box({2, 4}, {1, 1}), MakeArray<uint8_t>(DataType::kUint8, {1, 1}, {1}));
  EXPECT_EQ(ReadFile(Path("s.zarr/1/1")), ToBytes<uint8_t>({1, 9, 9, 9, 9, 9, 9, 9}));
  EXPECT_FALSE(fs::exists(Path("s.zarr/0/0")));

  o.dimension_separator = ".";
  ds = Dataset::Create(Path("d.zarr"), o);
  ds.Write(Box({2, 4}, {1, 1}), MakeArray<uint8_t>(DataType::kUint8, {1, 1}, {1}));
  EXPECT_TRUE(fs::exists(Path("d.zarr/1.1")));
  // Overwriting with the fill value removes the chunk.
  ds.Write(Box({2, 4}, {1, 1}), MakeArray<uint8_t>(DataType::kUint8, {1, 1}, {9}));
  EXPECT_FALSE(fs::exists(Path("d.zarr/1.1")));

  // Edge chunks written by others may hold anything outside the array: it reads as the fill
  // value, and does not keep a chunk alive.
  WriteFile(Path("d.zarr/1.1"), ToBytes<uint8_t>({9, 5, 5, 5, 5, 5, 5, 5}));
  ds = Dataset::Open(Path("d.zarr"));
  EXPECT_EQ(ds.driver().DecodeUnit(ReadFile(Path("d.zarr/1.1")), {1, 1}),
            MakeArray<uint8_t>(DataType::kUint8, {2, 4}, {9, 9, 9, 9, 9, 9, 9, 9}));
  ds.Write(Box({0, 0}, {1, 1}), MakeArray<uint8_t>(DataType::kUint8, {1, 1}, {3}));
  ds.Write(Box({2, 0}, {1, 5}), MakeArray<uint8_t>(DataType::kUint8, {1, 5}, {9, 9, 9, 9, 9}));
  EXPECT_FALSE(fs::exists(Path("d.zarr/1.1")));
}

// Whole chunks written from a larger array are taken from it as they lie: contiguous there
// (chunks spanning the trailing axes) or gathered. The files hold the C-order elements, and a
// chunk that is all fill value (a non-zero one here) is not stored, raw or compressed.
TEST_F(Zarr2Test, WholeChunksFromLargerArray) {
  for (const char* codec : {"raw", "zstd:1"}) {
    for (const Shape& chunks : {Shape{1, 4, 6}, Shape{2, 2, 3}}) {
      CreateOptions o;
      o.format = "zarr2";
      o.shape = {4, 4, 6};
      o.chunks = chunks;
      o.dtype = DataType::kUint16;
      o.fill_value = 7;
      o.codecs = ParseCodecSpec(codec);
      const std::string path =
          Path(std::string(codec[0] == 'r' ? "raw" : "zstd") + std::to_string(chunks[0]) + ".zarr");
      Dataset ds = Dataset::Create(path, o);
      Array a = Array::Filled(DataType::kUint16, o.shape, ToBytes<uint16_t>({7}));
      for (Index i = 0; i < 24; ++i) a.data_as<uint16_t>()[48 + i] = static_cast<uint16_t>(i);
      ds.Write(Box::FromShape(o.shape), a);
      EXPECT_FALSE(fs::exists(path + "/0/0/0")) << codec;
      EXPECT_EQ(Dataset::Open(path).Read(Box::FromShape(o.shape)), a) << codec;
      if (chunks[0] == 1 && codec[0] == 'r') {
        Bytes want(48);
        std::memcpy(want.data(), a.data() + 96, 48);
        EXPECT_EQ(ReadFile(path + "/2/0/0"), want);
      }
    }
  }
}

TEST_F(Zarr2Test, ParentGroupsAndAttributes) {
  WriteFile(Path("out.zarr/.zgroup"), "{\"zarr_format\": 2, \"mine\": 1}");
  WriteFile(Path("out.zarr/.zattrs"), "{\"keep\": true}");
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {4};
  o.chunks = {2};
  o.attributes = {{"resolution", {4, 4, 40}}};
  Dataset ds = Dataset::Create(Path("out.zarr/a/b/arr"), o);
  EXPECT_EQ(ReadJsonFile(Path("out.zarr/.zgroup")), json({{"zarr_format", 2}, {"mine", 1}}));
  EXPECT_EQ(ReadJsonFile(Path("out.zarr/.zattrs")), json({{"keep", true}}));
  EXPECT_EQ(ReadJsonFile(Path("out.zarr/a/.zgroup")), json({{"zarr_format", 2}}));
  EXPECT_EQ(ReadJsonFile(Path("out.zarr/a/b/.zgroup")), json({{"zarr_format", 2}}));
  EXPECT_FALSE(fs::exists(Path("out.zarr/a/.zattrs")));
  EXPECT_FALSE(fs::exists(Path("out.zarr/a/b/arr/.zgroup")));
  EXPECT_EQ(ReadJsonFile(Path("out.zarr/a/b/arr/.zattrs")), o.attributes);
  EXPECT_EQ(ds.driver().Attributes(), o.attributes);
  EXPECT_EQ(Dataset::Open(Path("out.zarr/a/b/arr")).driver().Attributes(), o.attributes);

  // A container root that is the array itself gets no .zgroup.
  Dataset::Create(Path("solo.zarr"), o);
  EXPECT_FALSE(fs::exists(Path("solo.zarr/.zgroup")));

  try {
    Dataset::Create(Path("out.zarr/a/b/arr/inner"), o);
    ADD_FAILURE() << "created an array inside an array";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition) << e.what();
    EXPECT_NE(std::string(e.what()).find("arr/.zarray"), std::string::npos) << e.what();
  }
}

void WriteZarray(const std::string& dir, const json& z) { WriteFile(dir + "/.zarray", z.dump()); }

json BaseZarray() {
  return {{"zarr_format", 2},      {"shape", {7}},    {"chunks", {4}}, {"dtype", "<i4"},
          {"compressor", nullptr}, {"fill_value", 0}, {"order", "C"},  {"filters", nullptr}};
}

TEST_F(Zarr2Test, DeltaFilterReadAndWrite) {
  // What numcodecs.Delta(dtype="<i4", astype="<i2") stores for [10, 12, 11, 11 | 20, 5, 6].
  json z = BaseZarray();
  z["filters"] = {{{"id", "delta"}, {"dtype", "<i4"}, {"astype", "<i2"}}};
  const std::string dir = Path("delta.zarr");
  WriteZarray(dir, z);
  WriteFile(dir + "/0", ToBytes<int16_t>({10, 2, -1, 0}));
  WriteFile(dir + "/1", ToBytes<int16_t>({20, -15, 1, -6}));
  Dataset ds = Dataset::Open(dir);
  EXPECT_EQ(ds.Read(Box::FromShape({7})),
            MakeArray<int32_t>(DataType::kInt32, {7}, {10, 12, 11, 11, 20, 5, 6}));
  EXPECT_EQ(ds.Info()["codecs"], "delta(<i4 as <i2) | bytes(little)");
  ds.Write(Box({2}, {3}), MakeArray<int32_t>(DataType::kInt32, {3}, {100, 90, -1}));
  EXPECT_EQ(ReadFile(dir + "/0"), ToBytes<int16_t>({10, 2, 88, -10}));
  EXPECT_EQ(ReadFile(dir + "/1"), ToBytes<int16_t>({-1, 6, 1, -6}));
  EXPECT_EQ(Dataset::Open(dir).Read(Box::FromShape({7})),
            MakeArray<int32_t>(DataType::kInt32, {7}, {10, 12, 100, 90, -1, 5, 6}));
}

TEST_F(Zarr2Test, NullFillValueStoresEveryChunk) {
  // Without a fill value zarr-python leaves missing chunks uninitialized, so every written
  // chunk is stored, zeros included; volbatch reads missing ones as 0.
  json z = BaseZarray();
  z["fill_value"] = nullptr;
  const std::string dir = Path("nofill.zarr");
  WriteZarray(dir, z);
  Dataset ds = Dataset::Open(dir);
  EXPECT_EQ(ds.Read(Box::FromShape({7})), Array(DataType::kInt32, {7}));
  ds.Write(Box({0}, {4}), Array(DataType::kInt32, {4}));
  EXPECT_EQ(ReadFile(dir + "/0"), Bytes(16, std::byte{0}));
  EXPECT_FALSE(fs::exists(dir + "/1"));
}

TEST_F(Zarr2Test, AsTypeFilterBigEndian) {
  json z = BaseZarray();
  z["dtype"] = ">f8";
  z["shape"] = {3};
  z["chunks"] = {3};
  z["fill_value"] = "NaN";
  z["filters"] = {{{"id", "astype"}, {"encode_dtype", "<f4"}, {"decode_dtype", ">f8"}}};
  const std::string dir = Path("astype.zarr");
  WriteZarray(dir, z);
  WriteFile(dir + "/0", ToBytes<float>({1.5f, -2.25f, 1e10f}));
  EXPECT_EQ(Dataset::Open(dir).Read(Box::FromShape({3})),
            MakeArray<double>(DataType::kFloat64, {3}, {1.5, -2.25, 1e10f}));
}

void ExpectOpenError(const std::string& dir, ErrorCode code, std::vector<std::string> needles) {
  try {
    Dataset::Open(dir).Read(Box::FromShape(Dataset::Open(dir).shape()));
    ADD_FAILURE() << "no error for " << dir;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "'" << n << "' not in: " << e.what();
    }
  }
}

TEST_F(Zarr2Test, MetadataErrorsNameFieldAndFile) {
  int n = 0;
  auto check = [&](json z, ErrorCode code, std::vector<std::string> needles) {
    const std::string dir = Path("bad" + std::to_string(n++) + ".zarr");
    WriteZarray(dir, z);
    needles.push_back(dir + "/.zarray");
    SCOPED_TRACE(z.dump());
    ExpectOpenError(dir, code, needles);
  };
  for (const char* field :
       {"zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order"}) {
    json z = BaseZarray();
    z.erase(field);
    check(z, ErrorCode::kInvalidArgument, {std::string("\"") + field + "\"", "missing"});
  }
  auto with = [](const char* field, json value) {
    json z = BaseZarray();
    z[field] = std::move(value);
    return z;
  };
  check(with("zarr_format", 3), ErrorCode::kInvalidArgument, {"\"zarr_format\""});
  check(with("shape", "big"), ErrorCode::kInvalidArgument, {"\"shape\""});
  check(with("shape", {-1}), ErrorCode::kInvalidArgument, {"\"shape\""});
  check(with("shape", json::array()), ErrorCode::kInvalidArgument, {"\"shape\"", "rank"});
  check(with("chunks", {0}), ErrorCode::kInvalidArgument, {"\"chunks\""});
  check(with("chunks", {2.5}), ErrorCode::kInvalidArgument, {"\"chunks\""});
  check(with("chunks", {2, 2}), ErrorCode::kInvalidArgument, {"\"chunks\"", "rank"});
  check(with("order", "K"), ErrorCode::kInvalidArgument, {"\"order\""});
  check(with("dimension_separator", "-"), ErrorCode::kInvalidArgument, {"\"dimension_separator\""});
  check(with("fill_value", "lots"), ErrorCode::kInvalidArgument, {"fill_value"});
  check(with("filters", "delta"), ErrorCode::kInvalidArgument, {"\"filters\""});
  check(with("dtype", "<c8"), ErrorCode::kUnsupported, {"<c8"});
  check(with("dtype", json::array({{"a", "<i4"}})), ErrorCode::kUnsupported, {"\"dtype\""});
  check(with("compressor", {{"id", "zfpy"}}), ErrorCode::kUnsupported, {"zfpy", "compressor"});
  check(with("compressor", {{"id", "lzma"}, {"format", 3}}), ErrorCode::kUnsupported,
        {"lzma", "format"});
  check(with("filters", {{{"id", "categorize"}, {"labels", {"a"}}}}), ErrorCode::kUnsupported,
        {"filters[0] in ",
         ".zarray: filter \"categorize\" is not supported (volbatch reads "
         "astype, bitround, delta, fixedscaleoffset, packbits, quantize)"});
  check(with("filters", {{{"id", "delta"}, {"dtype", "<i2"}}}), ErrorCode::kUnsupported,
        {"<i2", "filters[0]"});
  // A chunk grid whose chunks could never be allocated fails before any allocation.
  json huge = with("shape", {1 << 20, 1 << 20, 1 << 20});
  huge["chunks"] = {1 << 20, 1 << 20, 1 << 20};
  check(huge, ErrorCode::kInvalidArgument, {"\"chunks\"", "limit"});

  const std::string dir = Path("notjson.zarr");
  WriteFile(dir + "/.zarray", "{\"zarr_format\": 2,");
  ExpectOpenError(dir, ErrorCode::kInvalidArgument, {dir + "/.zarray", "JSON"});
  WriteFile(Path("attrs.zarr/.zattrs"), "[1]");
  WriteZarray(Path("attrs.zarr"), BaseZarray());
  ExpectOpenError(Path("attrs.zarr"), ErrorCode::kInvalidArgument, {"attrs.zarr/.zattrs"});
}

TEST_F(Zarr2Test, ChunkOfWrongSizeIsDataLoss) {
  const std::string dir = Path("short.zarr");
  WriteZarray(dir, BaseZarray());
  WriteFile(dir + "/1", ToBytes<int32_t>({1, 2, 3}));
  ExpectOpenError(dir, ErrorCode::kDataLoss, {dir + "/1", "12 bytes", "16"});
}

TEST_F(Zarr2Test, CreateRejectsWhatZarr2CannotStore) {
  CreateOptions o;
  o.format = "zarr2";
  o.shape = {4};
  o.chunks = {2};
  auto expect = [&](const CreateOptions& bad, const std::string& needle) {
    try {
      Dataset::Create(Path("c.zarr"), bad);
      ADD_FAILURE() << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(Path("c.zarr/.zarray")));
  };
  CreateOptions bad = o;
  bad.shards = Shape{4};
  expect(bad, "shards");
  bad = o;
  bad.order = "X";
  expect(bad, "order");
  bad = o;
  bad.dimension_separator = "_";
  expect(bad, "dimension_separator");
  bad = o;
  bad.endian = "middle";
  expect(bad, "endian");
  bad = o;
  bad.codecs = {{{"name", "bytes"}}};
  expect(bad, "bytes");
  bad = o;
  bad.codecs = {{{"name", "transpose"}, {"configuration", {{"order", {0}}}}}};
  expect(bad, "transpose");
}

// ---- compressed arrays, for each compressor the codec registry has ----

struct CodecCase {
  const char* label;
  json codecs;
  std::vector<std::string> ids;  // the numcodecs ids written: filters..., compressor
};

std::vector<CodecCase> CodecCases() {
  return {
      {"gzip", {{{"name", "gzip"}, {"configuration", {{"level", 6}}}}}, {"gzip"}},
      {"zlib", {{{"name", "zlib"}, {"configuration", {{"level", 1}}}}}, {"zlib"}},
      {"zstd", {{{"name", "zstd"}, {"configuration", {{"level", 3}}}}}, {"zstd"}},
      {"blosc_lz4_shuffle",
       {{{"name", "blosc"},
         {"configuration", {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}}}}},
       {"blosc"}},
      {"blosc_zstd_bitshuffle",
       {{{"name", "blosc"},
         {"configuration", {{"cname", "zstd"}, {"clevel", 3}, {"shuffle", "bitshuffle"}}}}},
       {"blosc"}},
      {"bz2", {{{"name", "bz2"}, {"configuration", {{"level", 9}}}}}, {"bz2"}},
      {"xz", {{{"name", "xz"}, {"configuration", {{"level", 6}}}}}, {"lzma"}},
      {"lz4", {{{"name", "lz4"}, {"configuration", json::object()}}}, {"lz4"}},
      {"crc32c", {{{"name", "crc32c"}}}, {"crc32c"}},
      {"zstd_crc32c", {{{"name", "zstd"}}, {{"name", "crc32c"}}}, {"zstd", "crc32c"}},
  };
}

bool AllRegistered(const json& codecs) {
  for (const auto& c : codecs) {
    if (KindOfCodec(c["name"].get<std::string>()) != CodecKind::kBytesToBytes) return false;
  }
  return true;
}

TEST_F(Zarr2Test, CompressedAgainstModel) {
  int variant = 0;
  int ran = 0;
  for (const CodecCase& cc : CodecCases()) {
    if (!AllRegistered(cc.codecs)) {
      std::cerr << "[ skipped  ] " << cc.label << ": codec not registered\n";
      continue;
    }
    ++ran;
    for (DataType t : {DataType::kUint16, DataType::kFloat32, DataType::kUint8}) {
      ModelCase c;
      c.shape = {11, 7, 9};
      c.chunks = {4, 7, 4};
      c.dtype = t;
      c.fill = FillFor(t, variant);
      c.order = variant % 2 ? "F" : "C";
      c.separator = variant % 3 ? "/" : ".";
      c.endian = variant % 4 == 1 ? "big" : "little";
      c.codecs = cc.codecs;
      const std::string path = Path(std::string(cc.label) + std::to_string(variant) + ".zarr");
      RunModel(path, c, 77 + variant);
      if (HasFatalFailure()) return;
      const json z = ReadJsonFile(path + "/.zarray");
      std::vector<std::string> ids;
      if (!z["filters"].is_null()) {
        for (const auto& f : z["filters"]) ids.push_back(f["id"]);
      }
      ids.push_back(z["compressor"]["id"]);
      EXPECT_EQ(ids, cc.ids) << cc.label;
      ++variant;
    }
  }
  if (ran == 0) GTEST_SKIP() << "no compressor registered yet";
}

TEST_F(Zarr2Test, CorruptCompressedChunkIsDataLoss) {
  if (!AllRegistered({{{"name", "zstd"}}})) GTEST_SKIP() << "zstd not registered yet";
  json z = BaseZarray();
  z["compressor"] = {{"id", "zstd"}, {"level", 1}};
  const std::string dir = Path("corrupt.zarr");
  WriteZarray(dir, z);
  WriteFile(dir + "/0", std::string("\x28\xb5\x2f\xfd garbage garbage", 20));
  ExpectOpenError(dir, ErrorCode::kDataLoss, {dir + "/0"});
}

// z5py wrote zlib streams under the compressor id "gzip"; they read, detected per chunk, and
// info says so once; gzip chunks beside them read as before.
TEST_F(Zarr2Test, GzipChunkHoldingAZlibStream) {
  json z = BaseZarray();
  z["compressor"] = {{"id", "gzip"}, {"level", 5}};
  const std::string dir = Path("z5gzip.zarr");
  WriteZarray(dir, z);
  const ChunkSpec spec{DataType::kInt32, {4}, {}};
  const Bytes c0 = ToBytes<int32_t>({1, 2, 3, 4}), c1 = ToBytes<int32_t>({5, 6, 7, 0});
  WriteFile(dir + "/0", MakeBytesCodec("zlib", {{"level", 6}})->Encode(c0, spec));
  WriteFile(dir + "/1", MakeBytesCodec("gzip", {{"level", 6}})->Encode(c1, spec));
  const Dataset ds = Dataset::Open(dir);
  EXPECT_EQ(ds.Read(Box::FromShape({7})),
            MakeArray<int32_t>(DataType::kInt32, {7}, {1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(ds.Info()["notes"],
            json::array({"gzip chunks hold zlib streams (as z5py wrote them); read as zlib"}));
  // A gzip first chunk: no note.
  WriteFile(dir + "/0", MakeBytesCodec("gzip", {{"level", 6}})->Encode(c0, spec));
  EXPECT_FALSE(Dataset::Open(dir).Info().contains("notes"));
  // Neither gzip nor zlib: the gzip error, naming the chunk.
  WriteFile(dir + "/0", std::string("\x12\x34 not a stream at all"));
  ExpectOpenError(dir, ErrorCode::kDataLoss, {dir + "/0", "gzip"});
}

}  // namespace
}  // namespace volbatch
