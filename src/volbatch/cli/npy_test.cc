#include "volbatch/cli/npy.h"

#include <gtest/gtest.h>

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

constexpr DataType kAllTypes[] = {
    DataType::kBool,   DataType::kInt8,    DataType::kInt16,   DataType::kInt32,
    DataType::kInt64,  DataType::kUint8,   DataType::kUint16,  DataType::kUint32,
    DataType::kUint64, DataType::kFloat16, DataType::kFloat32, DataType::kFloat64,
};

// Random bytes (0/1 for bool): byte equality is what we check, NaN payloads included.
Array Pattern(DataType dtype, const Shape& shape, uint64_t seed) {
  Array a(dtype, shape);
  std::mt19937_64 rng(seed);
  for (auto& b : a.bytes())
    b = static_cast<std::byte>(rng() & (dtype == DataType::kBool ? 1 : 0xff));
  return a;
}

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> v((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Bytes(reinterpret_cast<const std::byte*>(v.data()),
               reinterpret_cast<const std::byte*>(v.data() + v.size()));
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/volbatch_npy_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs a Python script with numpy; its working directory is the test's temp dir.
  void RunPython(const std::string& script) {
    const std::string file = Path("script.py");
    WriteFile(file, script);
    const std::string cmd = "cd '" + dir_ + "' && /usr/bin/python3 '" + file + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << script;
  }

  std::string dir_;
};

Shape ShapeOfRank(size_t rank) {
  const Shape full = {7, 3, 5, 2, 3};
  return Shape(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(rank));
}

TEST_F(NpyTest, RoundTripEveryTypeAndRankAndNumpyReadsIt) {
  std::string check = "import numpy as np\nok = True\n";
  int i = 0;
  for (DataType t : kAllTypes) {
    for (size_t rank = 1; rank <= 5; ++rank, ++i) {
      const Shape shape = ShapeOfRank(rank);
      const Array a = Pattern(t, shape, i);
      const std::string name = "a" + std::to_string(i);
      {
        NpyWriter w(Path(name + ".npy"), t, shape);
        // Uneven slabs: 3 + 1 + 3 planes.
        for (auto [b, e] : {std::pair<Index, Index>{0, 3}, {3, 4}, {4, 7}}) {
          Box box = Box::FromShape(shape);
          box.begin[0] = b;
          box.shape[0] = e - b;
          w.WriteSlab(a.Slice(box));
        }
        w.Close();
      }
      NpyReader r(Path(name + ".npy"));
      EXPECT_EQ(r.header().dtype, t);
      EXPECT_EQ(r.header().shape, shape);
      EXPECT_FALSE(r.header().fortran_order);
      EXPECT_EQ(r.header().data_offset % 64, 0u);
      EXPECT_EQ(r.ReadSlab(0, shape[0]), a) << DataTypeName(t) << " rank " << rank;
      Box mid = Box::FromShape(shape);
      mid.begin[0] = 2;
      mid.shape[0] = 3;
      EXPECT_EQ(r.ReadSlab(2, 5), a.Slice(mid));
      EXPECT_EQ(r.ReadSlab(4, 4).num_elements(), 0);
      // numpy must load it, and np.save of the same array must give the same bytes.
      {
        std::ofstream raw(Path(name + ".bin"), std::ios::binary);
        raw.write(reinterpret_cast<const char*>(a.data()),
                  static_cast<std::streamsize>(a.num_bytes()));
      }
      std::string shape_py = "(";
      for (Index s : shape) shape_py += std::to_string(s) + ",";
      shape_py += ")";
      check += "a = np.load('" + name + ".npy')\n";
      check += "b = np.fromfile('" + name + ".bin', dtype=np.dtype('" + NpyDescr(t) +
               "')).reshape(" + shape_py + ")\n";
      check +=
          "assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), '" +
          name + "'\n";
      check += "import io\nf = io.BytesIO(); np.save(f, b)\n";
      check += "assert f.getvalue() == open('" + name +
               ".npy', 'rb').read(), 'bytes differ: " + name + "'\n";
    }
  }
  RunPython(check);
}

// numpy writes every layout volbatch must read: C and Fortran order, both byte orders, format
// versions 1.0, 2.0 and 3.0, and empty arrays. `.bin` holds the C-order little-endian truth.
TEST_F(NpyTest, ReadsFilesNumpyWrote) {
  RunPython(R"(
import numpy as np
rng = np.random.default_rng(42)
shapes = [(9,), (6, 5), (5, 3, 7), (4, 3, 2, 5), (3, 2, 4, 3, 2), (0, 4), (3, 0, 2)]
types = ['?', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8']
cases = []
for ti, t in enumerate(types):
    for si, s in enumerate(shapes):
        if t == '?':
            a = rng.integers(0, 2, size=s).astype('?')
        else:
            a = rng.integers(0, 256, size=int(np.prod(s)) * np.dtype(t).itemsize,
                             dtype='u1').view(t).reshape(s)
        truth = np.ascontiguousarray(a).astype(np.dtype(t).newbyteorder('<'))
        for layout in ['c', 'f', 'be', 'bef', 'v2', 'v3']:
            name = f'n_{ti}_{si}_{layout}'
            b = a
            if layout in ('be', 'bef') and np.dtype(t).itemsize > 1:
                b = a.astype(np.dtype(t).newbyteorder('>'))
            if layout in ('f', 'bef'):
                b = np.asfortranarray(b)
            with open(name + '.npy', 'wb') as f:
                version = {'v2': (2, 0), 'v3': (3, 0)}.get(layout)
                np.lib.format.write_array(f, b, version=version)
            truth.tofile(name + '.bin')
            cases.append(f'{name} {t} {" ".join(map(str, s))}\n')
open('cases.txt', 'w').writelines(cases)
)");
  std::ifstream cases(Path("cases.txt"));
  std::string line;
  int n = 0;
  while (std::getline(cases, line)) {
    std::istringstream in(line);
    std::string name, type;
    in >> name >> type;
    Shape shape;
    Index v;
    while (in >> v) shape.push_back(v);
    SCOPED_TRACE(name);
    NpyReader r(Path(name + ".npy"));
    EXPECT_EQ(r.header().shape, shape);
    // numpy marks an array that is both C and F contiguous (empty, or 1-D) as C order.
    const bool fortran = name.back() == 'f' && shape.size() > 1 &&
                         std::find(shape.begin(), shape.end(), 0) == shape.end();
    EXPECT_EQ(r.header().fortran_order, fortran);
    const Bytes truth = ReadFile(Path(name + ".bin"));
    const Array whole = r.ReadSlab(0, shape[0]);
    ASSERT_EQ(whole.num_bytes(), truth.size());
    EXPECT_TRUE(std::equal(truth.begin(), truth.end(), whole.bytes().begin()));
    // Slab by slab, one plane at a time, gives the same bytes.
    Bytes pieces;
    for (Index z = 0; z < shape[0]; ++z) {
      const Array s = r.ReadSlab(z, z + 1);
      pieces.insert(pieces.end(), s.bytes().begin(), s.bytes().end());
    }
    EXPECT_EQ(pieces, truth);
    ++n;
  }
  EXPECT_EQ(n, 12 * 7 * 6);
}

// Fortran-order rows longer than the reader's window go through the per-run path.
TEST_F(NpyTest, ReadsLargeFortranOrderInSlabs) {
  RunPython(R"(
import numpy as np
a = np.arange(300000 * 2 * 3, dtype='<u2').reshape(300000, 2, 3) * 7
np.save('f.npy', np.asfortranarray(a))
np.save('bef.npy', np.asfortranarray(a.astype('>u2')))
a.tofile('f.bin')
)");
  const Bytes truth = ReadFile(Path("f.bin"));
  for (const char* name : {"f.npy", "bef.npy"}) {
    NpyReader r(Path(name));
    ASSERT_TRUE(r.header().fortran_order);
    const size_t plane = 2 * 3 * 2;
    for (auto [b, e] : {std::pair<Index, Index>{0, 300000}, {12345, 200001}, {299999, 300000}}) {
      const Array s = r.ReadSlab(b, e);
      ASSERT_EQ(s.num_bytes(), static_cast<size_t>(e - b) * plane);
      EXPECT_TRUE(std::equal(s.bytes().begin(), s.bytes().end(), truth.begin() + b * plane))
          << name << " [" << b << ", " << e << ")";
    }
  }
}

std::string Header(std::string_view dict, int major = 1) {
  std::string h("\x93NUMPY", 6);
  h += static_cast<char>(major);
  h += '\0';
  std::string body(dict);
  body += '\n';
  if (major == 1) {
    h += static_cast<char>(body.size() & 0xff);
    h += static_cast<char>(body.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) h += static_cast<char>((body.size() >> (8 * i)) & 0xff);
  }
  return h + body;
}

struct Hostile {
  const char* name;
  std::string bytes;
  ErrorCode code;
  const char* says;
};

TEST_F(NpyTest, RefusesHostileHeaders) {
  const std::string data(64, '\0');
  const std::vector<Hostile> cases = {
      {"empty", "", ErrorCode::kInvalidArgument, "bad magic"},
      {"magic", "\x93NUMPX\x01\x00\x10\x00" + data, ErrorCode::kInvalidArgument, "bad magic"},
      {"version", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + data, ErrorCode::kInvalidArgument,
       "version 9.0"},
      {"descr", Header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "'<c8'"},
      {"pipe16", Header("{'descr': '|u2', 'fortran_order': False, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "'|u2'"},
      {"object", Header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "'|O'"},
      {"structured",
       Header("{'descr': [('a', '<u1')], 'fortran_order': False, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "structured"},
      {"negative", Header("{'descr': '<u2', 'fortran_order': False, 'shape': (-2,), }") + data,
       ErrorCode::kInvalidArgument, "non-negative"},
      {"overflow digits",
       Header("{'descr': '<u2', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
       ErrorCode::kInvalidArgument, "overflows"},
      {"overflow product",
       Header("{'descr': '<u2', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
       ErrorCode::kInvalidArgument, "overflow"},
      {"overflow bytes",
       Header("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }"),
       ErrorCode::kInvalidArgument, "overflows"},
      {"huge but short",
       Header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }") + data,
       ErrorCode::kDataLoss, "needs"},
      {"truncated data",
       Header("{'descr': '<u2', 'fortran_order': False, 'shape': (40,), }") + data,
       ErrorCode::kDataLoss, "needs"},
      {"truncated header", std::string("\x93NUMPY\x01\x00\x40\x00{'descr': '<u2', 'fortr", 32),
       ErrorCode::kDataLoss, "file ends"},
      {"header length", std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12) + data,
       ErrorCode::kInvalidArgument, "implausibly large"},
      {"missing key", Header("{'descr': '<u2', 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "missing key 'fortran_order'"},
      {"extra key",
       Header("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), 'x': 1, }") + data,
       ErrorCode::kInvalidArgument, "unexpected key 'x'"},
      {"duplicate key",
       Header("{'descr': '<u2', 'descr': '<u2', 'fortran_order': False, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "duplicate"},
      {"not a tuple", Header("{'descr': '<u2', 'fortran_order': False, 'shape': (2), }") + data,
       ErrorCode::kInvalidArgument, "not a tuple"},
      {"scalar", Header("{'descr': '<u2', 'fortran_order': False, 'shape': (), }") + data,
       ErrorCode::kInvalidArgument, "0-d"},
      {"bool value", Header("{'descr': '<u2', 'fortran_order': 0, 'shape': (2,), }") + data,
       ErrorCode::kInvalidArgument, "True or False"},
      {"not a dict", Header("[1, 2, 3]") + data, ErrorCode::kInvalidArgument, "expected '{'"},
      {"trailing", Header("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), } x") + data,
       ErrorCode::kInvalidArgument, "after the dict"},
      {"rank 33",
       Header("{'descr': '<u1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
              "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }") +
           data,
       ErrorCode::kInvalidArgument, "32 axes"},
  };
  for (const auto& c : cases) {
    const std::string path = Path(std::string("hostile ") + c.name + ".npy");
    WriteFile(path, c.bytes);
    try {
      NpyReader r(path);
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.code(), c.code) << c.name << ": " << what;
      EXPECT_NE(what.find(path), std::string::npos) << c.name << ": " << what;
      EXPECT_NE(what.find(c.says), std::string::npos) << c.name << ": " << what;
    }
  }
}

TEST_F(NpyTest, MissingFileAndDirectory) {
  try {
    ReadNpyHeader(Path("nope.npy"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  try {
    ReadNpyHeader(dir_);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST_F(NpyTest, SlabOutsideTheArrayIsAnError) {
  {
    NpyWriter w(Path("a.npy"), DataType::kUint8, {4, 2});
    w.WriteSlab(Array(DataType::kUint8, {4, 2}));
    w.Close();
  }
  NpyReader r(Path("a.npy"));
  EXPECT_THROW(r.ReadSlab(3, 5), Error);
  EXPECT_THROW(r.ReadSlab(-1, 2), Error);
  EXPECT_THROW(r.ReadSlab(2, 1), Error);
}

TEST_F(NpyTest, WriterIsAtomicAndChecksSlabs) {
  const std::string path = Path("out.npy");
  {
    NpyWriter w(path, DataType::kUint16, {4, 3});
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint8, {1, 3})), Error);   // dtype
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint16, {1, 4})), Error);  // plane shape
    EXPECT_THROW(w.WriteSlab(Array(DataType::kUint16, {5, 3})), Error);  // too many planes
    w.WriteSlab(Array(DataType::kUint16, {2, 3}));
    EXPECT_FALSE(fs::exists(path));
    try {
      w.Close();
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
      EXPECT_NE(std::string(e.what()).find("2 of 4"), std::string::npos);
    }
  }
  // Abandoned: neither the file nor its temporary remains.
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));
  // Replacing an existing file is atomic: the old one stays until Close.
  WriteFile(path, "old");
  {
    NpyWriter w(path, DataType::kUint16, {1, 3});
    w.WriteSlab(Array(DataType::kUint16, {1, 3}));
    EXPECT_EQ(ReadFile(path).size(), 3u);
    w.Close();
  }
  EXPECT_EQ(ReadNpyHeader(path).shape, (Shape{1, 3}));
  EXPECT_THROW(NpyWriter(Path("no/such/dir/x.npy"), DataType::kUint8, {1}), Error);
}

TEST(NpyHeaderBytes, MatchesNumpyLayout) {
  const std::string h = NpyHeaderBytes(DataType::kUint16, {3, 4});
  EXPECT_EQ(h.size() % 64, 0u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(h.find("{'descr': '<u2', 'fortran_order': False, 'shape': (3, 4), }"),
            std::string::npos);
  EXPECT_NE(NpyHeaderBytes(DataType::kBool, {5}).find("'|b1'"), std::string::npos);
  EXPECT_NE(NpyHeaderBytes(DataType::kBool, {5}).find("(5,)"), std::string::npos);
  EXPECT_EQ(h.back(), '\n');
}

}  // namespace
}  // namespace volbatch
