// Decompression bombs and lying headers: decoding with a small max_decoded must fail with
// DataLoss without allocating what the stream claims. Allocations are observed by replacing
// operator new for this test binary (only counted on a thread while a tracker is alive; the
// libraries' own mallocs are bounded separately: zstd's window, xz's memlimit).
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "volbatch/codec/codec_test_util.h"
#include "volbatch/core/checked.h"

// GCC warns when it inlines these malloc/free based replacements into library code.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
thread_local size_t* g_peak = nullptr;
}  // namespace

void* operator new(size_t n) {
  if (g_peak && n > *g_peak) *g_peak = n;
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace volbatch {
namespace {

using nlohmann::json;
using testing::ByteSpec;
using testing::CodeOf;
using testing::ToBytes;

class PeakAllocation {
 public:
  PeakAllocation() { g_peak = &peak_; }
  ~PeakAllocation() { g_peak = nullptr; }
  size_t peak() const { return peak_; }

 private:
  size_t peak_ = 0;
};

const Bytes& Zeros100MB() {
  static const Bytes zeros(100u << 20);
  return zeros;
}

struct Bomb {
  std::string name;
  json configuration;
};

TEST(Bombs, HundredMegabytesOfZerosWithAOneMegabyteBound) {
  const std::vector<Bomb> bombs = {
      {"gzip", {{"level", 1}}}, {"zlib", {{"level", 1}}},
      {"zstd", {{"level", 1}}}, {"blosc", {{"cname", "lz4"}, {"clevel", 5}}},
      {"bz2", {{"level", 1}}},  {"xz", {{"level", 0}}},
      {"lz4", json::object()},  {"n5_lz4", json::object()},
  };
  const Bytes& zeros = Zeros100MB();
  const ChunkSpec spec = ByteSpec(zeros.size());
  constexpr size_t kBound = 1 << 20;
  for (const Bomb& b : bombs) {
    SCOPED_TRACE(b.name);
    auto codec = MakeBytesCodec(b.name, b.configuration);
    const Bytes enc = codec->Encode(zeros, spec);
    ASSERT_LT(enc.size(), zeros.size() / 100) << "not much of a bomb";
    PeakAllocation tracker;
    std::string msg;
    EXPECT_EQ(CodeOf([&] { codec->Decode(enc, kBound, spec); }, &msg), ErrorCode::kDataLoss);
    EXPECT_NE(msg.find(std::to_string(kBound)), std::string::npos) << msg;
    EXPECT_LE(tracker.peak(), 2 * kBound) << "allocated " << tracker.peak() << " bytes";
  }
}

// 20-odd byte streams whose headers claim gigabytes, decoded with the largest bound a chunk
// may have: they fail without allocating more than the input could possibly expand to.
TEST(Bombs, LyingHeadersAllocateLittle) {
  const size_t bound = static_cast<size_t>(kMaxChunkBytes);
  struct Case {
    std::string name;
    Bytes stream;
  };
  const std::vector<Case> cases = {
      // gzip header, 6 bytes of junk deflate, CRC, ISIZE = 0xFFFFFFFF
      {"gzip", ToBytes({0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0,    0x03, 0xed, 0xc1,
                        0x01, 0x0d, 0,    0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})},
      {"zlib",
       ToBytes({0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})},
      // zstd frame header: single segment, 8-byte content size 2^40, then a truncated block
      {"zstd", ToBytes({0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0, 0, 0})},
      // numcodecs LZ4: declares 4 GiB - 16 from a 16-byte block
      {"lz4",
       ToBytes({0xf0, 0xff, 0xff, 0xff, 0x1f, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})},
      // blosc header: nbytes = 2^31 - 32, blocksize 2^31 - 32, cbytes = 32
      {"blosc", ToBytes({0x02, 0x01, 0x01, 0x01, 0xe0, 0xff, 0xff, 0x7f, 0xe0, 0xff, 0xff,
                         0x7f, 0x20, 0,    0,    0,    0,    0,    0,    0,    0,    0,
                         0,    0,    0,    0,    0,    0,    0,    0,    0,    0})},
      {"bz2", ToBytes({'B', 'Z', 'h', '9', 0x31, 0x41, 0x59, 0x26, 0x53, 0x59,
                       0,   0,   0,   0,   0,    0,    0,    0,    0,    0})},
      {"xz", ToBytes({0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46,
                      0x02, 0x00, 0x21, 0x01, 0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto codec = MakeBytesCodec(c.name, json::object());
    PeakAllocation tracker;
    EXPECT_EQ(CodeOf([&] { codec->Decode(c.stream, bound, ByteSpec(1)); }), ErrorCode::kDataLoss);
    EXPECT_LE(tracker.peak(), size_t{1} << 20) << "allocated " << tracker.peak() << " bytes";
  }
}

TEST(Bombs, LargeLegitimateStreamsStillDecode) {
  const Bytes& zeros = Zeros100MB();
  const ChunkSpec spec = ByteSpec(zeros.size());
  for (const char* name : {"gzip", "zlib", "zstd"}) {
    auto codec = MakeBytesCodec(name, {{"level", 1}});
    EXPECT_EQ(codec->Decode(codec->Encode(zeros, spec), zeros.size(), spec), zeros) << name;
  }
}

}  // namespace
}  // namespace volbatch
