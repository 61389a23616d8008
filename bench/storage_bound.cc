// storage_bound: the most a chunked store could do for one row of bench/storage on this machine.
// A minimal loop over the codec libraries volbatch links (libzstd, libblosc, libdeflate), with
// none of volbatch: the same codec and level on the same chunks, the same number and sizes of
// files, the same durability (temporary file + rename per file, one syncfs at the end) and the
// same threads (std::thread over an atomic chunk counter), and no format logic at all.
//
// Byte layout of what it writes (one flat directory per repetition, OUT/repN):
//   unsharded: file "<n>" holds chunk n (C order of the chunk grid), the codec's output alone.
//   sharded:   file "<n>" holds shard n: its inner chunks encoded one after another (C order of
//              the inner grid), then an index of (offset, nbytes) little-endian uint64 pairs and
//              4 bytes where Zarr v3 puts a crc32c (left zero: 4 bytes per shard).
// Cost: a write per chunk is gather (the chunk out of the C-order volume) + encode + open,
// write, close, rename; a read is open, fstat, read, close, decode into a per-thread buffer and
// scatter into the C-order destination (a chunk is not contiguous there, so every reader of a
// C-order array pays that copy). Raw chunks skip the codec: gathered straight into the file
// buffer, scattered straight from it. Buffers are per thread, allocated and touched before the
// clock starts. A shard is written and read whole, in one file operation.
//
// Before each timed write (and round trip) it touches and frees as much memory as the phase
// writes (WarmFreePages), as storage_bench does: on these VMs (virtio-balloon free page
// reporting) memory left free for a few seconds goes back to the host, and a page cache
// filled from such memory cost 0.70 CPU s per 256 MiB of raw chunks against 0.15 s from
// memory just freed; without it a tool's write cost depended on what ran just before it.
//
//   storage_bound --data FILE.raw --dtype uint8|uint16 --shape Z,Y,X --chunks Z,Y,X
//                 --codec raw|zstd:L|gzip:L|blosc:CNAME:CLEVEL:SHUFFLE [--shards Z,Y,X]
//                 --out DIR [--threads 2] [--reps 3] [--roundtrip 0|1]
//
// Repetition N writes OUT/repN (and OUT/repN.rt for the round trip: read OUT/repN whole into
// memory, then write it again and sync); nothing is deleted, the caller removes OUT. Prints
// one JSON object: write_s, read_s, roundtrip_s, write_cpu_s, read_cpu_s, roundtrip_cpu_s
// (lists; CPU seconds of all threads), stored_bytes, files.
#include <blosc.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Shape = std::vector<int64_t>;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error(what + (errno ? std::string(": ") + std::strerror(errno) : ""));
}

Shape ParseShape(const std::string& s) {
  Shape out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoll(part));
  if (out.size() != 3) throw std::runtime_error("shapes have 3 axes: " + s);
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// The codec of a row, called the way volbatch's codec/ files call the same library.
class Codec {
 public:
  Codec(const std::string& spec, size_t itemsize) : itemsize_(itemsize) {
    const auto f = Split(spec, ':');
    name_ = f.at(0);
    if (name_ == "zstd" || name_ == "gzip") level_ = f.size() > 1 ? std::stoi(f[1]) : 3;
    if (name_ == "blosc") {
      cname_ = f.size() > 1 ? f[1] : "lz4";
      level_ = f.size() > 2 ? std::stoi(f[2]) : 5;
      const std::string sh = f.size() > 3 ? f[3] : "shuffle";
      shuffle_ = sh == "noshuffle" ? 0 : sh == "bitshuffle" ? 2 : 1;
    }
    if (name_ != "raw" && name_ != "zstd" && name_ != "gzip" && name_ != "blosc") {
      throw std::runtime_error("unknown codec " + spec);
    }
  }
  bool raw() const { return name_ == "raw"; }

  // Encodes `n` bytes at `in` into `out` (room for `cap` bytes); returns the size. Raw chunks
  // never come here: they are gathered straight into the file buffer.
  size_t Encode(const std::byte* in, size_t n, std::byte* out, size_t cap) const {
    if (name_ == "zstd") {
      thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c(ZSTD_createCCtx(),
                                                                        ZSTD_freeCCtx);
      const size_t r = ZSTD_compressCCtx(c.get(), out, cap, in, n, level_);
      if (ZSTD_isError(r)) throw std::runtime_error("zstd compress");
      return r;
    }
    if (name_ == "gzip") {
      thread_local std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> c(
          libdeflate_alloc_compressor(level_), libdeflate_free_compressor);
      const size_t r = libdeflate_gzip_compress(c.get(), in, n, out, cap);
      if (r == 0) throw std::runtime_error("gzip compress");
      return r;
    }
    const int r =
        blosc_compress_ctx(level_, shuffle_, itemsize_, n, in, out, cap, cname_.c_str(), 0, 1);
    if (r <= 0) throw std::runtime_error("blosc compress");
    return static_cast<size_t>(r);
  }

  // Decodes `in` into exactly `n` bytes at `out`.
  void Decode(const std::byte* in, size_t size, std::byte* out, size_t n) const {
    if (name_ == "raw") {
      if (size != n) throw std::runtime_error("raw chunk of the wrong size");
      std::memcpy(out, in, n);
    } else if (name_ == "zstd") {
      thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(),
                                                                        ZSTD_freeDCtx);
      if (ZSTD_decompressDCtx(d.get(), out, n, in, size) != n) throw std::runtime_error("zstd");
    } else if (name_ == "gzip") {
      thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
          libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
      if (libdeflate_gzip_decompress(d.get(), in, size, out, n, nullptr) != LIBDEFLATE_SUCCESS) {
        throw std::runtime_error("gzip decompress");
      }
    } else if (blosc_decompress_ctx(in, out, n, 1) != static_cast<int>(n)) {
      throw std::runtime_error("blosc decompress");
    }
  }

 private:
  std::string name_, cname_;
  int level_ = 0, shuffle_ = 1;
  size_t itemsize_;
};

// Where the chunks lie: a C-order volume cut into boxes of `chunk` (which divide it).
struct Grid {
  Shape shape, chunk;
  size_t itemsize;
  Shape cells() const { return {shape[0] / chunk[0], shape[1] / chunk[1], shape[2] / chunk[2]}; }
  int64_t count() const {
    const Shape c = cells();
    return c[0] * c[1] * c[2];
  }
  size_t chunk_bytes() const {
    return static_cast<size_t>(chunk[0] * chunk[1] * chunk[2]) * itemsize;
  }
  // Origin (in elements) of cell `n`, C order of the grid.
  Shape Origin(int64_t n) const {
    const Shape c = cells();
    return {n / (c[1] * c[2]) * chunk[0], n / c[2] % c[1] * chunk[1], n % c[2] * chunk[2]};
  }
};

// Copies the box at `o` of shape `s` between the volume and a contiguous
// buffer, row by row: gather when `to_buf`, scatter otherwise.
void CopyBox(std::byte* vol, const Shape& shape, const Shape& o, const Shape& s, size_t itemsize,
             std::byte* buf, bool to_buf) {
  const size_t row = static_cast<size_t>(s[2]) * itemsize;
  for (int64_t z = 0; z < s[0]; ++z) {
    for (int64_t y = 0; y < s[1]; ++y) {
      std::byte* v = vol + ((((o[0] + z) * shape[1]) + o[1] + y) * shape[2] + o[2]) *
                               static_cast<int64_t>(itemsize);
      std::byte* b = buf + static_cast<size_t>(z * s[1] + y) * row;
      if (to_buf) {
        std::memcpy(b, v, row);
      } else {
        std::memcpy(v, b, row);
      }
    }
  }
}

// Touches `bytes` of fresh memory and gives it back to the kernel (see the header).
void WarmFreePages(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  std::memset(p, 1, bytes);
  ::munmap(p, bytes);
}

// Each thread's buffers, allocated and touched once before any clock starts (as a store that
// keeps its buffers would), so that no phase pays for fresh pages.
struct Buffers {
  std::vector<std::byte> scratch;  // one decoded (inner) chunk
  std::vector<std::byte> file;     // one stored unit, encoded
  size_t size = 0;                 // bytes of `file` in use
};

// Runs body(thread, item) for items 0..n-1 on `threads` threads taking items in turn.
void ParallelFor(int threads, int64_t n, const std::function<void(int, int64_t)>& body) {
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex mu;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (int64_t i; (i = next++) < n;) body(t, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        error = std::current_exception();
        next = n;
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Temporary file + rename, as volbatch's file store does with deferred durability.
void WriteFile(const std::string& dir, int64_t n, const Buffers& b) {
  const std::string name = dir + "/" + std::to_string(n);
  const std::string tmp = dir + "/." + std::to_string(n) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) Fail("open " + tmp);
  size_t done = 0;
  while (done < b.size) {
    const ssize_t w = ::write(fd, b.file.data() + done, b.size - done);
    if (w < 0) Fail("write " + tmp);
    done += static_cast<size_t>(w);
  }
  if (::close(fd) != 0) Fail("close " + tmp);
  if (::rename(tmp.c_str(), name.c_str()) != 0) Fail("rename " + tmp);
}

void ReadFile(const std::string& dir, int64_t n, Buffers& b) {
  const std::string name = dir + "/" + std::to_string(n);
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail("open " + name);
  struct stat st;
  if (::fstat(fd, &st) != 0) Fail("fstat " + name);
  b.size = static_cast<size_t>(st.st_size);
  if (b.size > b.file.size()) throw std::runtime_error(name + ": larger than any unit encodes");
  size_t done = 0;
  while (done < b.size) {
    const ssize_t r = ::read(fd, b.file.data() + done, b.size - done);
    if (r <= 0) Fail("read " + name);
    done += static_cast<size_t>(r);
  }
  ::close(fd);
}

void Syncfs(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::syncfs(fd) != 0) Fail("syncfs " + dir);
  ::close(fd);
}

struct Row {
  Grid units;                 // chunks, or shards
  std::optional<Grid> inner;  // inner chunks of a shard (shape = the shard)
  const Codec* codec;
  int threads;
  const Grid& chunks() const { return inner ? *inner : units; }
};

// Chunk `which` of the row (origin `o` in the volume) appended to b.file at b.size: a raw one
// gathered straight there, others gathered into scratch and encoded there.
void EncodeChunk(const Row& r, std::byte* vol, const Shape& o, Buffers& b) {
  const Grid& g = r.chunks();
  std::byte* at = b.file.data() + b.size;
  if (r.codec->raw()) {
    CopyBox(vol, r.units.shape, o, g.chunk, g.itemsize, at, true);
    b.size += g.chunk_bytes();
    return;
  }
  CopyBox(vol, r.units.shape, o, g.chunk, g.itemsize, b.scratch.data(), true);
  b.size += r.codec->Encode(b.scratch.data(), g.chunk_bytes(), at, b.file.size() - b.size);
}

// The chunk encoded in `bytes` scattered to its place `o` in the volume (a raw one straight
// from the file's bytes).
void DecodeChunk(const Row& r, const std::byte* bytes, size_t size, std::byte* vol, const Shape& o,
                 Buffers& b) {
  const Grid& g = r.chunks();
  const std::byte* from = bytes;
  if (r.codec->raw()) {
    if (size != g.chunk_bytes()) throw std::runtime_error("raw chunk of the wrong size");
  } else {
    r.codec->Decode(bytes, size, b.scratch.data(), g.chunk_bytes());
    from = b.scratch.data();
  }
  CopyBox(vol, r.units.shape, o, g.chunk, g.itemsize, const_cast<std::byte*>(from), false);
}

// One storage unit (chunk or shard) `n` of `vol` encoded into b.file.
void EncodeUnit(const Row& r, std::byte* vol, int64_t n, Buffers& b) {
  const Shape o = r.units.Origin(n);
  b.size = 0;
  if (!r.inner) {
    EncodeChunk(r, vol, o, b);
    return;
  }
  const Grid& g = *r.inner;
  std::vector<uint64_t> index;
  for (int64_t i = 0; i < g.count(); ++i) {
    Shape io = g.Origin(i);
    for (int d = 0; d < 3; ++d) io[d] += o[d];
    index.push_back(b.size);
    EncodeChunk(r, vol, io, b);
    index.push_back(b.size - index.back());
  }
  const size_t index_bytes = index.size() * sizeof(uint64_t) + 4;  // + Zarr v3's crc32c
  if (b.size + index_bytes > b.file.size()) throw std::runtime_error("shard buffer too small");
  std::memcpy(b.file.data() + b.size, index.data(), index_bytes - 4);
  std::memset(b.file.data() + b.size + index_bytes - 4, 0, 4);
  b.size += index_bytes;
}

void DecodeUnit(const Row& r, std::byte* vol, int64_t n, Buffers& b) {
  const Shape o = r.units.Origin(n);
  if (!r.inner) {
    DecodeChunk(r, b.file.data(), b.size, vol, o, b);
    return;
  }
  const Grid& g = *r.inner;
  const size_t index_bytes = static_cast<size_t>(g.count()) * 16 + 4;
  if (b.size < index_bytes) throw std::runtime_error("shard shorter than its index");
  std::vector<uint64_t> index(static_cast<size_t>(g.count()) * 2);
  std::memcpy(index.data(), b.file.data() + b.size - index_bytes, index.size() * 8);
  for (int64_t i = 0; i < g.count(); ++i) {
    const uint64_t at = index[2 * i], size = index[2 * i + 1];
    if (at + size > b.size - index_bytes) throw std::runtime_error("bad shard index");
    Shape io = g.Origin(i);
    for (int d = 0; d < 3; ++d) io[d] += o[d];
    DecodeChunk(r, b.file.data() + at, size, vol, io, b);
  }
}

void WriteAll(const Row& r, std::byte* vol, const std::string& dir, std::vector<Buffers>& bufs) {
  fs::create_directories(dir);
  ParallelFor(r.threads, r.units.count(), [&](int t, int64_t n) {
    EncodeUnit(r, vol, n, bufs[t]);
    WriteFile(dir, n, bufs[t]);
  });
  Syncfs(dir);
}

void ReadAll(const Row& r, std::byte* vol, const std::string& dir, std::vector<Buffers>& bufs) {
  ParallelFor(r.threads, r.units.count(), [&](int t, int64_t n) {
    ReadFile(dir, n, bufs[t]);
    DecodeUnit(r, vol, n, bufs[t]);
  });
}

// User + system CPU seconds of this process so far (all threads).
double CpuSeconds() {
  struct rusage r;
  ::getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string JsonList(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> a = {
      {"--threads", "2"}, {"--reps", "3"}, {"--roundtrip", "0"}};
  for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  for (const char* need : {"--data", "--dtype", "--shape", "--chunks", "--codec", "--out"}) {
    if (!a.count(need)) throw std::runtime_error(std::string("missing ") + need);
  }
  const size_t itemsize = a["--dtype"] == "uint8" ? 1 : a["--dtype"] == "uint16" ? 2 : 0;
  if (itemsize == 0) throw std::runtime_error("--dtype is uint8 or uint16");
  const Shape shape = ParseShape(a["--shape"]);
  const Shape chunks = ParseShape(a["--chunks"]);
  const Codec codec(a["--codec"], itemsize);
  Row row{{shape, chunks, itemsize}, std::nullopt, &codec, std::stoi(a["--threads"])};
  if (a.count("--shards")) {
    const Shape shards = ParseShape(a["--shards"]);
    row.units = {shape, shards, itemsize};
    row.inner = Grid{shards, chunks, itemsize};
  }
  for (int d = 0; d < 3; ++d) {
    if (shape[d] % row.units.chunk[d] || (row.inner && row.inner->shape[d] % chunks[d])) {
      throw std::runtime_error("the chunks (and shards) must divide the shape");
    }
  }
  const size_t bytes = static_cast<size_t>(shape[0] * shape[1] * shape[2]) * itemsize;
  std::vector<std::byte> src(bytes), dst(bytes);
  std::ifstream in(a["--data"], std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(src.data()), static_cast<std::streamsize>(bytes))) {
    throw std::runtime_error(a["--data"] + ": shorter than the shape says");
  }
  std::memset(dst.data(), 0, bytes);  // fault the pages in before the clock starts
  // A unit's encoding is at most its bytes plus an eighth and 64 KiB (every codec here, and
  // a shard's index), as volbatch's codecs bound it too.
  const size_t unit_bytes = row.units.chunk_bytes();
  std::vector<Buffers> bufs(static_cast<size_t>(row.threads));
  for (Buffers& b : bufs) {
    b.scratch.assign(row.chunks().chunk_bytes(), std::byte{1});
    b.file.assign(unit_bytes + unit_bytes / 8 + (64 << 10), std::byte{1});
  }

  std::vector<double> write_s, read_s, roundtrip_s, write_cpu, read_cpu, roundtrip_cpu;
  const bool roundtrip = a["--roundtrip"] == "1";
  const std::string out = a["--out"];
  for (int rep = 0; rep < std::stoi(a["--reps"]); ++rep) {
    const std::string dir = out + "/rep" + std::to_string(rep);
    WarmFreePages(bytes);
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    WriteAll(row, src.data(), dir, bufs);
    const auto t1 = Clock::now();
    const double c1 = CpuSeconds();
    ReadAll(row, dst.data(), dir, bufs);
    const auto t2 = Clock::now();
    write_cpu.push_back(c1 - c0);
    read_cpu.push_back(CpuSeconds() - c1);
    if (rep == 0 && std::memcmp(src.data(), dst.data(), bytes) != 0) {
      throw std::runtime_error("read back differs from what was written");
    }
    write_s.push_back(Seconds(t0, t1));
    read_s.push_back(Seconds(t1, t2));
    if (roundtrip) {
      WarmFreePages(bytes);
      const double c3 = CpuSeconds();
      const auto t3 = Clock::now();
      ReadAll(row, dst.data(), dir, bufs);
      WriteAll(row, dst.data(), dir + ".rt", bufs);
      roundtrip_s.push_back(Seconds(t3, Clock::now()));
      roundtrip_cpu.push_back(CpuSeconds() - c3);
    }
  }
  int64_t stored = 0, files = 0;
  for (const auto& e : fs::directory_iterator(out + "/rep0")) {
    stored += static_cast<int64_t>(e.file_size());
    ++files;
  }
  std::cout << "{\"write_s\": " << JsonList(write_s) << ", \"read_s\": " << JsonList(read_s)
            << ", \"roundtrip_s\": " << JsonList(roundtrip_s)
            << ", \"write_cpu_s\": " << JsonList(write_cpu)
            << ", \"read_cpu_s\": " << JsonList(read_cpu)
            << ", \"roundtrip_cpu_s\": " << JsonList(roundtrip_cpu)
            << ", \"stored_bytes\": " << stored << ", \"files\": " << files << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "storage_bound: " << e.what() << "\n";
    return 1;
  }
}
