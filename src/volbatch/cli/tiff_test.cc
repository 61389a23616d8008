#include "volbatch/cli/tiff.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes out(v.size());
  std::memcpy(out.data(), v.data(), v.size());
  return out;
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

Array Pattern(DataType dtype, const Shape& shape, uint64_t seed) {
  Array a(dtype, shape);
  std::mt19937_64 rng(seed);
  for (auto& b : a.bytes())
    b = static_cast<std::byte>(rng() & (dtype == DataType::kBool ? 1 : 0xff));
  return a;
}

class TiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/volbatch_tiff_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs a Python script (numpy, tifffile) in the test's temp dir.
  void RunPython(const std::string& script) {
    const std::string file = Path("script.py");
    WriteFile(file,
              "import numpy as np, tifffile, warnings\nwarnings.simplefilter('ignore')\n" + script);
    const std::string cmd = "cd '" + dir_ + "' && /usr/bin/python3 '" + file + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << script;
  }

  template <typename F>
  void ExpectError(F&& f, ErrorCode code, const std::vector<std::string>& says) {
    try {
      f();
      ADD_FAILURE() << "no error; expected " << says[0];
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.code(), code) << what;
      for (const auto& s : says) EXPECT_NE(what.find(s), std::string::npos) << what;
    }
  }

  std::string dir_;
};

TEST(NaturalLess, NumbersCompareAsNumbers) {
  std::vector<std::string> names = {"s10.tif", "s2.tif",   "s1.tif", "s002b.tif",
                                    "a.tif",   "s100.tif", "s02.tif"};
  std::sort(names.begin(), names.end(), NaturalLess);
  EXPECT_EQ(names, (std::vector<std::string>{"a.tif", "s1.tif", "s02.tif", "s2.tif", "s002b.tif",
                                             "s10.tif", "s100.tif"}));
  EXPECT_TRUE(NaturalLess("z_9_x", "z_10_a"));
  EXPECT_FALSE(NaturalLess("z_10_a", "z_9_x"));
  EXPECT_TRUE(IsTiffName("a/B.TIFF"));
  EXPECT_FALSE(IsTiffName("a.tif.npy"));
}

// tifffile writes what microscopes and Fiji write: strips, tiles, deflate and LZMA,
// both byte orders, BigTIFF; each must read back exactly. `.bin` is the C-order truth.
TEST_F(TiffTest, ReadsFilesTifffileWrote) {
  RunPython(R"(
rng = np.random.default_rng(7)
types = ['u1', 'u2', 'u4', 'u8', 'i1', 'i2', 'i4', 'i8', 'f2', 'f4', 'f8']
variants = {
  'plain': {},
  'strips': {'rowsperstrip': 3},
  'tiles': {'tile': (16, 32)},
  'zlib': {'compression': 'zlib'},
  'lzma_tiles': {'compression': 'lzma', 'tile': (16, 16)},
  'bigendian': {'byteorder': '>'},
  'bigtiff': {'bigtiff': True},
}
lines = []
for t in types:
    a = rng.integers(0, 256, size=5 * 37 * 45 * np.dtype(t).itemsize, dtype='u1').view(t)
    a = a.reshape(5, 37, 45)
    for v, kw in variants.items():
        if t == 'f2' and 'compression' in kw:
            continue
        name = f'{t}_{v}.tif'
        tifffile.imwrite(name, a, photometric='minisblack', **kw)
        a.astype(np.dtype(t).newbyteorder('<')).tofile(name + '.bin')
        lines.append(f'{name} {np.dtype(t).name}\n')
one = rng.integers(0, 65535, size=(37, 45), dtype='u2')
tifffile.imwrite('single.tif', one, photometric='minisblack')
one.tofile('single.tif.bin')
lines.append('single.tif uint16\n')
open('cases.txt', 'w').writelines(lines)
)");
  std::ifstream cases(Path("cases.txt"));
  std::string name, type;
  int n = 0;
  while (cases >> name >> type) {
    SCOPED_TRACE(name);
    TiffReader r(Path(name));
    EXPECT_EQ(DataTypeName(r.dtype()), type);
    const Index z = name == "single.tif" ? 1 : 5;
    EXPECT_EQ(r.shape(), (Shape{z, 37, 45}));
    const Bytes truth = ReadFile(Path(name + ".bin"));
    const Array whole = r.ReadSlab(0, z);
    ASSERT_EQ(whole.num_bytes(), truth.size());
    EXPECT_TRUE(std::equal(truth.begin(), truth.end(), whole.bytes().begin()));
    // Out of order slabs jump straight to their pages.
    const size_t plane = 37 * 45 * ByteSize(r.dtype());
    for (Index b : {z - 1, Index{0}, z / 2}) {
      const Array s = r.ReadSlab(b, z);
      EXPECT_TRUE(std::equal(s.bytes().begin(), s.bytes().end(), truth.begin() + b * plane));
    }
    ++n;
  }
  EXPECT_EQ(n, 11 * 7 - 2 + 1);
}

TEST_F(TiffTest, ReadsAFolderOfSlicesInNaturalOrder) {
  RunPython(R"(
import os
os.mkdir('stack')
a = np.random.default_rng(3).integers(0, 65535, size=(12, 20, 30), dtype='u2')
for z in range(12):
    tifffile.imwrite(f'stack/slice_{z + 1}.tif', a[z], photometric='minisblack')
open('stack/notes.txt', 'w').write('not a slice')
open('stack/.hidden.tif', 'w').write('not a tiff')
a.tofile('stack.bin')
)");
  TiffReader r(Path("stack"));
  EXPECT_EQ(r.shape(), (Shape{12, 20, 30}));
  EXPECT_EQ(r.dtype(), DataType::kUint16);
  const Bytes truth = ReadFile(Path("stack.bin"));
  const Array a = r.ReadSlab(0, 12);
  EXPECT_TRUE(std::equal(truth.begin(), truth.end(), a.bytes().begin()));
  const Array s = r.ReadSlab(9, 11);
  EXPECT_TRUE(std::equal(s.bytes().begin(), s.bytes().end(), truth.begin() + 9 * 20 * 30 * 2));
}

TEST_F(TiffTest, ClearErrorsForWhatItCannotRead) {
  RunPython(R"(
import os
rgb = np.zeros((10, 12, 3), 'u1')
tifffile.imwrite('rgb.tif', rgb, photometric='rgb')
tifffile.imwrite('sizes.tif', np.zeros((2, 10, 12), 'u1'), photometric='minisblack')
tifffile.imwrite('sizes.tif', np.zeros((10, 13), 'u1'), photometric='minisblack', append=True)
tifffile.imwrite('types.tif', np.zeros((10, 12), 'u1'), photometric='minisblack')
tifffile.imwrite('types.tif', np.zeros((10, 12), 'u2'), photometric='minisblack', append=True)
tifffile.imwrite('complex.tif', np.zeros((10, 12), 'c8'), photometric='minisblack')
os.mkdir('mixed')
tifffile.imwrite('mixed/a1.tif', np.zeros((10, 12), 'u1'), photometric='minisblack')
tifffile.imwrite('mixed/a2.tif', np.zeros((10, 12), 'f4'), photometric='minisblack')
os.mkdir('multi')
tifffile.imwrite('multi/a1.tif', np.zeros((10, 12), 'u1'), photometric='minisblack')
tifffile.imwrite('multi/a2.tif', np.zeros((2, 10, 12), 'u1'), photometric='minisblack')
os.mkdir('empty')
open('garbage.tif', 'wb').write(b'II*\0' + b'\xff' * 40)
open('text.tif', 'w').write('hello')
)");
  ExpectError([&] { TiffReader r(Path("rgb.tif")); }, ErrorCode::kUnsupported,
              {Path("rgb.tif"), "page 0", "RGB"});
  ExpectError([&] { TiffReader r(Path("sizes.tif")); }, ErrorCode::kInvalidArgument,
              {Path("sizes.tif"), "page 2", "13x10", "page 0"});
  ExpectError([&] { TiffReader r(Path("types.tif")); }, ErrorCode::kInvalidArgument,
              {"page 1", "uint16", "uint8"});
  ExpectError([&] { TiffReader r(Path("complex.tif")); }, ErrorCode::kUnsupported,
              {Path("complex.tif"), "not supported"});
  ExpectError([&] { TiffReader r(Path("mixed")); }, ErrorCode::kInvalidArgument,
              {Path("mixed/a2.tif"), "float32", Path("mixed/a1.tif")});
  ExpectError([&] { TiffReader r(Path("multi")); }, ErrorCode::kInvalidArgument,
              {Path("multi/a2.tif"), "more than one page"});
  ExpectError([&] { TiffReader r(Path("empty")); }, ErrorCode::kNotFound, {Path("empty")});
  ExpectError([&] { TiffReader r(Path("missing.tif")); }, ErrorCode::kNotFound,
              {Path("missing.tif")});
  ExpectError([&] { TiffReader r(Path("text.tif")); }, ErrorCode::kInvalidArgument,
              {Path("text.tif")});
  try {
    TiffReader r(Path("garbage.tif"));
    ADD_FAILURE() << "garbage accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(Path("garbage.tif")), std::string::npos) << e.what();
  }
}

TEST_F(TiffTest, TruncatedDataIsDataLoss) {
  RunPython(R"(
tifffile.imwrite('t.tif', np.ones((3, 64, 64), 'u2'), photometric='minisblack')
)");
  TiffReader r(Path("t.tif"));
  // Cut the file inside the last page's pixels (tifffile writes each page's IFD after it).
  const auto bytes = ReadFile(Path("t.tif"));
  fs::resize_file(Path("t.tif"), bytes.size() - 64 * 64);
  ExpectError([&] { r.ReadSlab(0, 3); }, ErrorCode::kDataLoss, {Path("t.tif")});
}

// A header that claims a page far larger than the file must fail before anything is allocated.
TEST_F(TiffTest, HostileSizesFailBeforeAllocating) {
  for (uint16_t compression : {COMPRESSION_NONE, COMPRESSION_ADOBE_DEFLATE}) {
    const std::string path = Path("huge" + std::to_string(compression) + ".tif");
    TIFF* tif = TIFFOpen(path.c_str(), "w");
    ASSERT_NE(tif, nullptr);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, uint32_t{1} << 20);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, uint32_t{1} << 20);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 64);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, uint32_t{1} << 20);
    char junk[16] = {};
    ASSERT_EQ(TIFFWriteRawStrip(tif, 0, junk, sizeof(junk)), 16);
    TIFFClose(tif);
    ExpectError(
        [&] { TiffReader r(path); },
        compression == COMPRESSION_NONE ? ErrorCode::kDataLoss : ErrorCode::kInvalidArgument,
        {path, compression == COMPRESSION_NONE ? "past the end" : "1048576x1048576"});
  }
}

TEST_F(TiffTest, WritesWhatTifffileAndWeReadBack) {
  const DataType types[] = {DataType::kUint8,   DataType::kUint16, DataType::kUint32,
                            DataType::kUint64,  DataType::kInt8,   DataType::kInt16,
                            DataType::kInt32,   DataType::kInt64,  DataType::kFloat16,
                            DataType::kFloat32, DataType::kFloat64};
  std::string check;
  int i = 0;
  for (DataType t : types) {
    for (bool big : {false, true}) {
      const Shape shape = {7, 33, 300};
      const Array a = Pattern(t, shape, ++i);
      const std::string name = "w" + std::to_string(i) + ".tif";
      TiffWriteOptions options;
      options.force_bigtiff = big;
      TiffWriter w(Path(name), t, shape, options);
      EXPECT_EQ(w.bigtiff(), big);
      Box box = Box::FromShape(shape);
      box.shape[0] = 3;
      w.WriteSlab(a.Slice(box));
      box.begin[0] = 3;
      box.shape[0] = 4;
      w.WriteSlab(a.Slice(box));
      EXPECT_FALSE(fs::exists(Path(name)));
      w.Close();
      TiffReader r(Path(name));
      EXPECT_EQ(r.dtype(), t);
      EXPECT_EQ(r.shape(), shape);
      EXPECT_EQ(r.ReadSlab(0, 7), a) << name;
      {
        std::ofstream out(Path(name + ".bin"), std::ios::binary);
        out.write(reinterpret_cast<const char*>(a.data()),
                  static_cast<std::streamsize>(a.num_bytes()));
      }
      check += "t = tifffile.TiffFile('" + name + "')\n";
      check += "assert t.is_bigtiff == " + std::string(big ? "True" : "False") + "\n";
      check += "a = t.asarray()\n";
      check += "b = np.fromfile('" + name + ".bin', dtype='" + std::string(DataTypeName(t)) +
               "').reshape(7, 33, 300)\n";
      check +=
          "assert a.shape == b.shape and a.dtype == b.dtype, ('" + name + "', a.shape, a.dtype)\n";
      check += "assert a.tobytes() == b.tobytes(), '" + name + "'\n";
      check += "assert len(t.pages) == 7\n";
    }
  }
  RunPython(check);
}

TEST_F(TiffTest, WritesASinglePageByRowsAndBoolAsUint8) {
  const Array a = Pattern(DataType::kBool, {20, 9}, 1);
  {
    TiffWriter w(Path("b.tif"), DataType::kBool, {20, 9});
    w.WriteSlab(a.Slice(Box({0, 0}, {5, 9})));
    w.WriteSlab(a.Slice(Box({5, 0}, {15, 9})));
    w.Close();
  }
  TiffReader r(Path("b.tif"));
  EXPECT_EQ(r.dtype(), DataType::kUint8);
  EXPECT_EQ(r.shape(), (Shape{1, 20, 9}));
  const Array back = r.ReadSlab(0, 1);
  EXPECT_TRUE(std::equal(a.bytes().begin(), a.bytes().end(), back.bytes().begin()));
}

TEST_F(TiffTest, WriterChecksAndIsAtomic) {
  EXPECT_THROW(TiffWriter(Path("x.tif"), DataType::kUint8, {2, 3, 4, 5}), Error);
  EXPECT_THROW(TiffWriter(Path("x.tif"), DataType::kUint8, {0, 3, 4}), Error);
  {
    TiffWriter w(Path("x.tif"), DataType::kUint8, {3, 4, 5});
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint16, {1, 4, 5})), Error);
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint8, {1, 4, 6})), Error);
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint8, {4, 4, 5})), Error);
    w.WriteSlab(Array(DataType::kUint8, {2, 4, 5}));
    ExpectError([&] { w.Close(); }, ErrorCode::kFailedPrecondition, {"2 of 3"});
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace volbatch
