// The local filesystem store: key "a/b/c" is the file "<root>/a/b/c", holding the value's bytes
// verbatim (no header, no padding). Directories are created as keys need them.
//
// Set writes "<dir>/.<name>.tmp.<pid>.<tag><random>" in the key's own directory (<tag>: 8 hex
// digits naming this host, <random>: 8 more) and renames it over the final name, so a reader
// sees the old value or the new one, never a part, and a writer that dies leaves at most a
// temporary file, which List hides and SweepTemporaries removes. What durability costs depends
// on the SyncMode:
//
// - kEachWrite: Set fsyncs the temporary file before the rename and the directory after it
//   (Erase the directory), and a new directory's parent is fsync'd too. One Set costs
//   open/write/fsync/close/rename/fsync(dir): two device flushes, ~3-4 ms on the VM disks we
//   measured, which caps a writer at ~36 MB/s of 128 KiB chunks whatever the codec.
// - kDeferred: Set and Erase skip every fsync, so a chunk costs what the page cache costs.
//   Sync() then makes all of them durable at once, by one of (DeferredSync):
//     kSyncfs:  syncfs(2) on each filesystem written to, through a directory opened before the
//               first write to it (syncfs reports writeback errors since that open, Linux >=
//               5.8). One writeback pass and one journal commit for everything.
//     kPerFile: open+fsync of every file renamed into place and every directory changed, 32 at
//               a time (one fsync at a time leaves the disk idle between commits).
//   Measured on a busy 2-core VM (ext4, virtio disk), 2 threads writing 128 KiB files: 2000
//   files took 0.49 s + syncfs 0.27 s against 0.62 s + 0.77 s of per-file fsyncs (7.3 s with
//   kEachWrite); 8000 files 6.0 s + 0.9 s against 5.6 s + 2.3 s. Starting writeback as each
//   file is written (sync_file_range) made the writers slower than the final sync it saves.
//   syncfs also writes back other programs' dirty data on that filesystem, which costs time
//   but is never wrong. kAuto picks kSyncfs on kernels that report its errors.
//
// Why deferred is safe: readers still see whole values only (the rename is atomic whether or
// not it is durable). A power loss or kernel crash can lose, or leave empty or torn under their
// final names, only values set or erased after the last Sync that returned. A block-wise job
// records a block done only after Sync returns, so every such value belongs to a block the
// job has not recorded and rewrites in full when it resumes; a value durable before a
// successful Sync stays as it was. A process that merely dies (no power loss) loses nothing:
// the page cache still holds what it renamed. A failed Sync cannot say which data is durable
// (the kernel may have dropped the pages it could not write), so it fails every later Sync of
// that store too, rather than let a retry report success.
//
// Names starting with ".volbatch" (the partial-write lock file) are not listed as keys either.
//
// Sub() stores share this bookkeeping with their parent, so Sync on any of them covers all.
// Get is open + pread (+ fstat for a value of 64 KiB or more); GetRange reads only the
// requested bytes. GetInto (open, fstat, preads) reads a value's parts straight to where the
// caller wants them, and SetPieces writes a value given in parts; both move parts under
// 256 KiB through a per-thread buffer of that size, so a chunk's rows never make a
// chunk-sized copy. Every key's directory is checked to stay inside the root once, then
// remembered: a directory made of real directories below the root (or below one remembered)
// costs an lstat per new component; any other is resolved in full against the canonical root.
// A last component that is a link is followed only if it stays inside, so that a symbolic
// link cannot lead a key outside the store. A write costs open, write, close and rename (the
// fstat that finds the filesystem to sync runs once per directory).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/core/fork_generation.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closing reports write-back errors on some filesystems (NFS), so a writer checks it.
  int Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

 private:
  int fd_;
};

// Temporary names are ".<name>.tmp.<pid>.<16 hex>"; List must not show them as keys.
struct TempName {
  std::string_view name;  // the key's last segment, cut to kMaxTempBase characters
  long pid;
  std::string_view hex;  // host tag (8) + random (8)
};

// The largest value Get reads: far above any chunk or shard volbatch writes, far below what a
// corrupt or hostile sparse file can claim.
constexpr uint64_t kMaxValueBytes = uint64_t{16} << 30;
// Get reads this much before it asks the file's size: most chunks are smaller.
constexpr size_t kProbeBytes = size_t{64} << 10;
// Long key names would make the temporary name exceed NAME_MAX (255).
constexpr size_t kMaxTempBase = 128;

std::optional<TempName> ParseTempName(std::string_view name) {
  if (name.size() < 2 || name[0] != '.') return std::nullopt;
  const size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string_view::npos || tmp < 2) return std::nullopt;
  std::string_view rest = name.substr(tmp + 5);
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  long pid = 0;
  for (char c : rest.substr(0, dot)) {
    if (c < '0' || c > '9') return std::nullopt;
    pid = pid > (LONG_MAX - 9) / 10 ? LONG_MAX : pid * 10 + (c - '0');
  }
  std::string_view hex = rest.substr(dot + 1);
  if (hex.size() != 16) return std::nullopt;
  if (!std::all_of(hex.begin(), hex.end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return std::nullopt;
  }
  return TempName{name.substr(1, tmp - 1), pid, hex};
}

bool IsTempName(std::string_view name) { return ParseTempName(name).has_value(); }

// ".volbatch*" files are volbatch's bookkeeping beside the data (the partial-write lock of
// store/unit_lock.h), not keys: no format names a key so.
bool IsOwnFile(std::string_view name) { return name.rfind(".volbatch", 0) == 0; }

std::string Hex(uint64_t v, int digits) {
  static const char* kDigits = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kDigits[v & 15];
  return s;
}

// Names this host in temporary names, so that SweepTemporaries only judges a writer's pid
// where that pid means something: on a filesystem shared by several hosts, a pid that is dead
// here may be a live writer elsewhere. (FNV-1a of the host name.)
const std::string& HostTag() {
  static const std::string tag = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    uint32_t h = 2166136261u;
    for (const char* p = host; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 16777619u;
    return Hex(h, 8);
  }();
  return tag;
}

std::string RandomHex8() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd() ^ std::hash<std::thread::id>()(std::this_thread::get_id());
  }());
  return Hex(rng() & 0xffffffffu, 8);
}

std::string TempFileName(std::string_view name, long pid) {
  return "." + std::string(name.substr(0, kMaxTempBase)) + ".tmp." + std::to_string(pid) + "." +
         HostTag() + RandomHex8();
}

// kill(pid, 0) fails with ESRCH only when no such process exists (EPERM: it exists).
bool ProcessAlive(long pid) {
  if (pid <= 0 || pid > INT_MAX) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

// syncfs(2) reports writeback errors (since the descriptor was opened) from Linux 5.8 on;
// before, it returned 0 even when data was lost.
bool SyncfsReportsErrors() {
  struct utsname u;
  if (::uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 8);
}

void FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw IoError(dir + ": cannot open directory to sync it: " + ErrnoText(errno));
  // Some filesystems cannot sync directories (EINVAL); there is nothing more we can do there.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) {
    throw IoError(dir + ": fsync of directory failed: " + ErrnoText(errno));
  }
}

void CheckValueSize(const std::string& path, uint64_t length) {
  // Sizes are checked before allocation: a sparse file of a terabyte where a chunk or a
  // metadata file should be must fail with the key, not with std::bad_alloc.
  if (length > kMaxValueBytes) {
    throw DataLoss(path + ": value of " + std::to_string(length) + " bytes exceeds the " +
                   std::to_string(kMaxValueBytes >> 30) + " GiB a single value may have");
  }
}

// Reads bytes [offset, offset + dest.size()) of `fd` into `dest`.
void ReadInto(int fd, const std::string& path, std::span<std::byte> dest, uint64_t offset) {
  const uint64_t length = dest.size();
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, uint64_t{1} << 30));
    const ssize_t n = ::pread(fd, dest.data() + done, want, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path + ": read failed: " + ErrnoText(errno));
    }
    if (n == 0) {
      throw DataLoss(path + ": file ended after " + std::to_string(offset + done) +
                     " bytes while reading " + std::to_string(length) + " bytes at offset " +
                     std::to_string(offset));
    }
    done += static_cast<uint64_t>(n);
  }
}

void Resize(Bytes& out, const std::string& path, uint64_t length) {
  CheckValueSize(path, length);
  try {
    out.resize(static_cast<size_t>(length));
  } catch (const std::bad_alloc&) {
    throw IoError(path + ": cannot allocate " + std::to_string(length) + " bytes to read it");
  }
}

Bytes ReadAt(int fd, const std::string& path, uint64_t offset, uint64_t length) {
  Bytes out;
  Resize(out, path, length);
  ReadInto(fd, path, std::span<std::byte>(out.data(), out.size()), offset);
  return out;
}

// Pieces of a value smaller than this go through a buffer of this size: one system call per
// buffer rather than per piece, and the gather or scatter stays in the CPU's cache. A 32 MiB
// chunk written from the 512-byte rows of a larger array cost 0.31 CPU s/GB gathered whole
// first, 0.22 through 256 KiB (a plain write of it 0.21); read into the rows 0.13 whole, 0.10
// through the buffer (bench note in README, issue 19).
constexpr size_t kPieceBufferBytes = size_t{256} << 10;

Bytes& PieceBuffer() {
  thread_local Bytes buffer;
  if (buffer.size() < kPieceBufferBytes) buffer.resize(kPieceBufferBytes);
  return buffer;
}

// Reads each piece's bytes of `fd`: large ones straight into place, runs of small ones that
// follow each other in the file through PieceBuffer.
void ReadPieces(int fd, const std::string& path, std::span<const KvStore::ReadPiece> pieces) {
  size_t i = 0;
  while (i < pieces.size()) {
    const KvStore::ReadPiece& p = pieces[i];
    if (p.dest.size() >= kPieceBufferBytes) {
      ReadInto(fd, path, p.dest, p.offset);
      ++i;
      continue;
    }
    const uint64_t begin = p.offset;
    uint64_t end = begin;
    size_t j = i;
    while (j < pieces.size() && pieces[j].offset == end &&
           end - begin + pieces[j].dest.size() <= kPieceBufferBytes) {
      end += pieces[j++].dest.size();
    }
    Bytes& buffer = PieceBuffer();
    ReadInto(fd, path, std::span<std::byte>(buffer.data(), end - begin), begin);
    for (; i < j; ++i) {
      if (!pieces[i].dest.empty()) {
        std::memcpy(pieces[i].dest.data(), buffer.data() + (pieces[i].offset - begin),
                    pieces[i].dest.size());
      }
    }
  }
}

// Writes all of `data` to `fd`; false with errno set if a write fails.
bool WriteAll(int fd, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    const size_t want = std::min<size_t>(data.size() - done, size_t{1} << 30);
    const ssize_t n = ::write(fd, data.data() + done, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes `pieces` in order: large ones as they are, runs of small ones gathered in
// PieceBuffer. False with errno set if a write fails.
bool WritePieces(int fd, std::span<const ByteView> pieces) {
  size_t i = 0;
  while (i < pieces.size()) {
    if (pieces[i].size() >= kPieceBufferBytes || pieces.size() == 1) {
      if (!WriteAll(fd, pieces[i++])) return false;
      continue;
    }
    Bytes& buffer = PieceBuffer();
    size_t used = 0;
    while (i < pieces.size() && pieces[i].size() < kPieceBufferBytes &&
           used + pieces[i].size() <= kPieceBufferBytes) {
      if (!pieces[i].empty()) std::memcpy(buffer.data() + used, pieces[i].data(), pieces[i].size());
      used += pieces[i++].size();
    }
    if (!WriteAll(fd, ByteView(buffer.data(), used))) return false;
  }
  return true;
}

// What a store and its Sub stores share: the durability mode and, when deferred, what the next
// Sync has to make durable.
struct SyncState {
  SyncMode mode = SyncMode::kEachWrite;
  DeferredSync method = DeferredSync::kSyncfs;  // resolved: never kAuto

  std::mutex mu;  // guards the fields below
  bool dirty = false;
  // kSyncfs: a directory opened on each filesystem written to, before the first write to it.
  std::vector<std::pair<dev_t, Fd>> filesystems;
  std::unordered_set<std::string> watched_dirs;  // directories on one of those filesystems
  // kPerFile: files renamed into place and directories whose entries changed.
  std::unordered_set<std::string> files, dirs;
  std::string failure;  // set by a failed Sync; every later Sync repeats it

  // Held for a whole Sync: a Sync that finds nothing new to do must still wait until an
  // earlier, concurrent one has finished its fsyncs before it can return.
  std::mutex sync_mu;
};

class FileStore : public KvStore {
 public:
  FileStore(std::string root, std::string canonical_root, std::shared_ptr<SyncState> sync)
      : root_(std::move(root)), canonical_(std::move(canonical_root)), sync_(std::move(sync)) {}

  std::optional<Bytes> Get(std::string_view key) const override {
    const std::string path = ResolveParent(key);
    Fd fd = OpenForRead(path, key);
    if (!fd) return std::nullopt;
    // Most values are small chunks: one read of up to kProbeBytes that comes back short is the
    // whole value, with no fstat. A full probe, an empty one or an error (a directory, a FIFO)
    // asks fstat what the file is and how long.
    Bytes probe(kProbeBytes);
    ssize_t n;
    do {
      n = ::pread(fd.get(), probe.data(), probe.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && static_cast<size_t>(n) < probe.size()) {
      probe.resize(static_cast<size_t>(n));
      return probe;
    }
    const auto size = FileSize(fd, path);
    if (!size) return std::nullopt;
    if (n < 0) throw IoError(path + ": read failed: " + ErrnoText(errno));
    const uint64_t have = std::min<uint64_t>(static_cast<uint64_t>(n), *size);
    // A fresh buffer of the whole size and one memcpy of the probe: growing the probe instead
    // would move its bytes one at a time (a vector with our allocator constructs each element
    // in its own call), which cost a sixth of reading a 256 KiB chunk from the page cache.
    Bytes out;
    Resize(out, path, *size);
    if (have > 0) std::memcpy(out.data(), probe.data(), static_cast<size_t>(have));
    ReadInto(fd.get(), path,
             std::span<std::byte>(out.data() + have, static_cast<size_t>(*size - have)), have);
    return out;
  }

  GetIntoResult GetInto(std::string_view key, uint64_t size,
                        std::span<const ReadPiece> pieces) const override {
    const std::string path = ResolveParent(key);
    Fd fd = OpenForRead(path, key);
    if (!fd) return GetIntoResult::kAbsent;
    const auto have = FileSize(fd, path);
    if (!have) return GetIntoResult::kAbsent;
    if (*have != size) return GetIntoResult::kDeclined;
    for (const ReadPiece& p : pieces) {
      if (p.offset > size || p.dest.size() > size - p.offset) {
        throw Internal(path + ": piece at " + std::to_string(p.offset) + " lies outside the " +
                       std::to_string(size) + " bytes asked for");
      }
    }
    ReadPieces(fd.get(), path, pieces);
    return GetIntoResult::kRead;
  }

  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    const std::string path = ResolveParent(key);
    if (range.offset >= 0 && range.length < -1) {
      throw InvalidArgument(path + ": byte range length " + std::to_string(range.length) +
                            " is negative");
    }
    Fd fd = OpenForRead(path, key);
    if (!fd) return std::nullopt;
    const auto size_opt = FileSize(fd, path);
    if (!size_opt) return std::nullopt;
    const uint64_t size = *size_opt;
    uint64_t begin, end;
    if (range.offset < 0) {
      // -INT64_MIN overflows; such a suffix is larger than any file anyway.
      const uint64_t n =
          range.offset == INT64_MIN ? uint64_t{1} << 63 : static_cast<uint64_t>(-range.offset);
      if (n > size) {
        throw DataLoss(path + ": cannot read the last " + std::to_string(n) +
                       " bytes of a value of " + std::to_string(size) + " bytes");
      }
      begin = size - n;
      end = size;
    } else {
      begin = static_cast<uint64_t>(range.offset);
      end = range.length == -1 ? std::max(size, begin)
                               : CheckedAddU(begin, static_cast<uint64_t>(range.length), path);
      if (begin > size || end > size) {
        throw DataLoss(path + ": byte range [" + std::to_string(begin) + ", " +
                       std::to_string(end) + ") lies outside the value of " + std::to_string(size) +
                       " bytes");
      }
    }
    return ReadAt(fd.get(), path, begin, end - begin);
  }

  void Set(std::string_view key, ByteView value) override {
    const ByteView one[] = {value};
    SetPieces(key, one);
  }

  void SetPieces(std::string_view key, std::span<const ByteView> pieces) override {
    // The rename replaces a last component that is a link rather than writing through it.
    const std::string path = ResolveParent(key);
    const size_t slash = path.rfind('/');
    const std::string dir = path.substr(0, slash);
    const std::string tmp = dir + "/" + TempFileName(path.substr(slash + 1), ::getpid());
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    Fd fd(::open(tmp.c_str(), flags, 0666));
    if (!fd && errno == ENOENT) {
      MakeParents(key);
      RealDirectoriesBelowKnown(dir);  // remembered now that it exists
      fd = Fd(::open(tmp.c_str(), flags, 0666));
    }
    if (!fd)
      throw IoError(path + ": cannot create temporary file " + tmp + ": " + ErrnoText(errno));
    auto fail = [&](const std::string& what, int err) {
      ::unlink(tmp.c_str());
      return IoError(path + ": " + what + ": " + ErrnoText(err));
    };
    const bool deferred = sync_->mode == SyncMode::kDeferred;
    if (deferred && sync_->method == DeferredSync::kSyncfs && !Watched(dir)) {
      struct stat sb;
      if (::fstat(fd.get(), &sb) != 0) throw fail("fstat failed", errno);
      WatchFilesystem(sb.st_dev, dir);
    }
    if (!WritePieces(fd.get(), pieces)) throw fail("write failed", errno);
    if (!deferred && ::fsync(fd.get()) != 0) throw fail("fsync failed", errno);
    if (fd.Close() != 0) throw fail("close failed", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename failed", errno);
    if (deferred) {
      Changed(&path, dir);
    } else {
      FsyncDir(dir);
    }
  }

  void Erase(std::string_view key) override {
    const std::string path = Resolve(key);
    if (::unlink(path.c_str()) == 0) {
      const std::string dir = path.substr(0, path.rfind('/'));
      if (sync_->mode == SyncMode::kDeferred) {
        // The unlink changed a filesystem that Sync may not know yet.
        struct stat sb;
        if (sync_->method == DeferredSync::kSyncfs && ::stat(dir.c_str(), &sb) == 0) {
          WatchFilesystem(sb.st_dev, dir);
        }
        Changed(nullptr, dir);
      } else {
        FsyncDir(dir);
      }
      return;
    }
    // A missing file or directory on the way means the key is absent; a directory is no key.
    // Empty parent directories stay: removing them would race with a concurrent Set that has
    // just created them for a sibling key.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return;
    throw IoError(path + ": cannot remove: " + ErrnoText(errno));
  }

  void Sync() override {
    SyncState& st = *sync_;
    if (st.mode != SyncMode::kDeferred) return;
    std::lock_guard sync_lock(st.sync_mu);
    std::vector<int> filesystems;
    std::vector<std::string> files, dirs;
    {
      std::lock_guard lock(st.mu);
      if (!st.failure.empty()) throw IoError(st.failure);
      if (!st.dirty) return;
      st.dirty = false;
      for (const auto& [dev, fd] : st.filesystems) filesystems.push_back(fd.get());
      files.assign(st.files.begin(), st.files.end());
      dirs.assign(st.dirs.begin(), st.dirs.end());
      st.files.clear();
      st.dirs.clear();
    }
    std::string failure;
    if (st.method == DeferredSync::kSyncfs) {
      for (int fd : filesystems) {
        if (::syncfs(fd) != 0) {
          failure = root_ + ": syncfs failed: " + ErrnoText(errno);
          break;
        }
      }
    } else {
      // Files first, so that no directory entry becomes durable before the data it names.
      failure = FsyncAll(files, false);
      if (failure.empty()) failure = FsyncAll(dirs, true);
    }
    if (!failure.empty()) {
      std::lock_guard lock(st.mu);
      st.failure = failure + " (what was written since the previous Sync may be lost)";
      throw IoError(st.failure);
    }
  }

  size_t SweepTemporaries(std::string_view prefix, std::chrono::seconds stale_after) override {
    const auto [start, dir_key] = Scope(prefix);
    const time_t now = ::time(nullptr);
    size_t removed = 0;
    Walk(start, dir_key, prefix,
         [&](const fs::path& p, const std::string& dir_key_of, const std::string& name,
             fs::file_type type) {
           const auto t = ParseTempName(name);
           if (!t || type != fs::file_type::regular) return;
           // In scope when the key it was meant for is (names of long keys are cut).
           const std::string target = dir_key_of + std::string(t->name);
           if (!std::string_view(target).starts_with(prefix) &&
               !(t->name.size() == kMaxTempBase && prefix.starts_with(target))) {
             return;
           }
           const bool local = t->hex.substr(0, 8) == HostTag();
           bool stale = local && !ProcessAlive(t->pid);
           const std::string path = p.string();
           if (!stale) {
             struct stat sb;
             if (::lstat(path.c_str(), &sb) != 0) return;  // renamed or removed meanwhile
             stale = now - sb.st_mtime >= stale_after.count();
           }
           if (!stale) return;
           // Not synced: a removal that a crash undoes is swept again by the next run.
           if (::unlink(path.c_str()) == 0) {
             ++removed;
           } else if (errno != ENOENT) {
             throw IoError(path + ": cannot remove stale temporary file: " + ErrnoText(errno));
           }
         });
    return removed;
  }

  std::vector<std::string> List(std::string_view prefix) const override {
    const auto [start, dir_key] = Scope(prefix);
    std::vector<std::string> keys;
    Walk(start, dir_key, prefix,
         [&](const fs::path& p, const std::string& dir_key_of, const std::string& name,
             fs::file_type type) {
           if (IsTempName(name) || IsOwnFile(name)) return;
           const std::string key = dir_key_of + name;
           if (type == fs::file_type::symlink) {
             std::error_code sec;
             if (!fs::is_regular_file(p, sec)) return;
             // A link leading outside is not a key of this store (Get would refuse it).
             try {
               CheckInside(p.string(), key);
             } catch (const Error&) {
               return;
             }
           } else if (type != fs::file_type::regular) {
             return;
           }
           if (std::string_view(key).starts_with(prefix)) keys.push_back(key);
         });
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::string Describe(std::string_view key) const override { return Join(key); }

  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    std::string_view p = prefix;
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (p.empty()) return std::make_shared<FileStore>(root_, canonical_, sync_);
    ValidateKey(p);
    const std::string path = Join(p);
    return std::make_shared<FileStore>(path, CheckInside(path, p), sync_);
  }

 private:
  std::string Join(std::string_view key) const {
    return root_ == "/" ? "/" + std::string(key) : root_ + "/" + std::string(key);
  }

  // Returns the canonical form of `path`, refusing one that leaves the root.
  std::string CheckInside(const std::string& path, std::string_view key) const {
    std::error_code ec;
    const std::string c = fs::weakly_canonical(path, ec).string();
    if (ec) throw IoError(path + ": cannot resolve: " + ec.message());
    const bool inside =
        canonical_ == "/" || c == canonical_ ||
        (c.size() > canonical_.size() && c.compare(0, canonical_.size(), canonical_) == 0 &&
         c[canonical_.size()] == '/');
    if (!inside) {
      throw InvalidArgument(path + ": key \"" + std::string(key) + "\" resolves to " + c +
                            ", outside the store root " + canonical_ +
                            " (through a symbolic link)");
    }
    return c;
  }

  std::string Resolve(std::string_view key) const {
    ValidateKey(key);
    std::string path = Join(key);
    CheckInside(path, key);
    return path;
  }

  // The path of `key`, refusing one whose directory leads outside the root; the last component
  // is the caller's to check (Set replaces it, OpenForRead refuses to follow it). Resolving a
  // path costs an lstat per component, as much as reading a small chunk from the page cache,
  // so directories found inside are remembered: a link that someone swaps in later is not
  // noticed, as it would not be between any check and the open that follows it.
  std::string ResolveParent(std::string_view key) const {
    ValidateKey(key);
    std::string path = Join(key);
    const size_t slash = key.rfind('/');
    if (slash == std::string_view::npos) return path;  // in the root itself
    const std::string dir = path.substr(0, path.rfind('/'));
    if (Known(dir)) return path;
    // Inside, or missing below real directories (Set creates it as a real directory; a read
    // finds nothing): no full resolution needed.
    if (RealDirectoriesBelowKnown(dir) != DirState::kUnknown) return path;
    CheckInside(dir, key);
    // Only an existing directory: a missing one may yet appear as a link.
    struct stat sb;
    if (::lstat(dir.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) {
      const std::vector<std::string> one = {dir};
      Remember(one.begin(), one.end());
    }
    return path;
  }

  // Whether `dir` is a chain of real directories (lstat: no links) below the root or below a
  // directory already remembered: then it is inside, at one lstat per new component instead
  // of resolving the whole path (a stat and a readlink per component). Remembers them.
  enum class DirState { kInside, kMissing, kUnknown };
  DirState RealDirectoriesBelowKnown(const std::string& dir) const {
    std::vector<std::string> fresh;
    for (std::string d = dir; d != root_;) {
      if (Known(d)) break;
      fresh.push_back(d);
      const size_t slash = d.rfind('/');
      if (slash == std::string::npos || slash < root_.size() ||
          d.compare(0, root_.size(), root_) != 0) {
        return DirState::kUnknown;
      }
      d.resize(slash);
    }
    size_t real = 0;  // components found to be real directories, from the top
    for (auto it = fresh.rbegin(); it != fresh.rend(); ++it, ++real) {
      struct stat sb;
      if (::lstat(it->c_str(), &sb) != 0) {
        if (errno != ENOENT) return DirState::kUnknown;
        Remember(fresh.end() - static_cast<std::ptrdiff_t>(real), fresh.end());
        return DirState::kMissing;
      }
      if (!S_ISDIR(sb.st_mode)) return DirState::kUnknown;
    }
    Remember(fresh.begin(), fresh.end());
    return DirState::kInside;
  }

  bool Known(const std::string& dir) const {
    return inside_.With([&](const auto& set) { return set.count(dir) > 0; });
  }

  void Remember(std::vector<std::string>::const_iterator begin,
                std::vector<std::string>::const_iterator end) const {
    inside_.With([&](auto& set) {
      if (set.size() + static_cast<size_t>(end - begin) >= kMaxRemembered) set.clear();
      set.insert(begin, end);
    });
  }

  // Opens `path` (from ResolveParent) for reading; an invalid handle if it is absent. A last
  // component that is a link is followed only once it proves to stay inside the root.
  Fd OpenForRead(const std::string& path, std::string_view key) const {
    // O_NONBLOCK: a FIFO where a value should be must not block the open (FileSize then
    // refuses it); it changes nothing for regular files.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd && errno == ELOOP) {
      CheckInside(path, key);
      fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    }
    if (!fd && errno != ENOENT && errno != ENOTDIR) {
      throw IoError(path + ": cannot open: " + ErrnoText(errno));
    }
    return fd;
  }

  // nullopt for a directory (a key prefix, not a value).
  static std::optional<uint64_t> FileSize(const Fd& fd, const std::string& path) {
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw IoError(path + ": fstat failed: " + ErrnoText(errno));
    if (S_ISDIR(st.st_mode)) return std::nullopt;
    if (!S_ISREG(st.st_mode)) {
      throw InvalidArgument(path + ": not a regular file (a FIFO, socket or device)");
    }
    return static_cast<uint64_t>(st.st_size);
  }

  // Creates the root and the key's parent directories. Each new directory's entry in its parent
  // must become durable with the file: synced here, or left to Sync when deferred.
  void MakeParents(std::string_view key) const {
    std::error_code ec;
    // The root and its missing ancestors: their entries must become durable too.
    std::vector<std::string> missing;
    for (fs::path p = root_; !p.empty() && p != p.root_path() && !fs::exists(p, ec);
         p = p.parent_path()) {
      missing.push_back(p.string());
    }
    fs::create_directories(root_, ec);
    if (ec) throw IoError(root_ + ": cannot create directory: " + ec.message());
    for (const auto& dir : missing) {
      const std::string above = fs::path(dir).parent_path().string();
      if (sync_->mode == SyncMode::kDeferred) {
        Changed(nullptr, above);
      } else {
        FsyncDir(above);
      }
    }
    size_t pos = 0;
    std::string parent = root_;
    while (true) {
      const size_t slash = key.find('/', pos);
      if (slash == std::string_view::npos) break;
      const std::string dir = Join(key.substr(0, slash));
      if (::mkdir(dir.c_str(), 0777) == 0) {
        if (sync_->mode == SyncMode::kDeferred) {
          Changed(nullptr, parent);
        } else {
          FsyncDir(parent);
        }
      } else if (errno != EEXIST) {
        throw IoError(dir + ": cannot create directory: " + ErrnoText(errno));
      }
      parent = dir;
      pos = slash + 1;
    }
  }

  // Whether `dir`'s filesystem is known to be watched (a directory seen before): saves the
  // fstat per write that would find out.
  bool Watched(const std::string& dir) const {
    std::lock_guard lock(sync_->mu);
    return sync_->watched_dirs.count(dir) > 0;
  }

  // Deferred mode: makes sure Sync will cover the filesystem `dev` that `dir` lives on. Set
  // calls this before it writes, so that syncfs through the directory opened here reports the
  // writeback errors of that write.
  void WatchFilesystem(dev_t dev, const std::string& dir) const {
    std::lock_guard lock(sync_->mu);
    if (sync_->watched_dirs.size() >= kMaxRemembered) sync_->watched_dirs.clear();
    sync_->watched_dirs.insert(dir);
    for (const auto& [known, fd] : sync_->filesystems) {
      if (known == dev) return;
    }
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw IoError(dir + ": cannot open directory to sync it later: " + ErrnoText(errno));
    sync_->filesystems.emplace_back(dev, std::move(fd));
  }

  // Deferred mode: records that `file` (may be null) was renamed into `dir`, or that `dir`'s
  // entries changed.
  void Changed(const std::string* file, const std::string& dir) const {
    std::lock_guard lock(sync_->mu);
    sync_->dirty = true;
    if (sync_->method != DeferredSync::kPerFile) return;
    if (file) sync_->files.insert(*file);
    sync_->dirs.insert(dir);
  }

  // fsyncs every path, up to 32 at a time (the disk commits concurrent fsyncs together). A
  // path that no longer exists was erased or its directory replaced since; the directory
  // fsync covers that. Returns the first failure, or "".
  static std::string FsyncAll(const std::vector<std::string>& paths, bool directories) {
    if (paths.empty()) return "";
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::string failure;
    auto work = [&] {
      for (size_t i; (i = next++) < paths.size();) {
        const std::string& path = paths[i];
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directories ? O_DIRECTORY : 0)));
        std::string what;
        if (!fd) {
          if (errno != ENOENT && errno != ENOTDIR) what = "cannot open to sync: ";
        } else if (::fsync(fd.get()) != 0 && !(directories && errno == EINVAL)) {
          what = "fsync failed: ";
        }
        if (!what.empty()) {
          std::lock_guard lock(mu);
          if (failure.empty()) failure = path + ": " + what + ErrnoText(errno);
          next = paths.size();
        }
      }
    };
    const size_t n = std::min<size_t>(32, (paths.size() + 7) / 8);
    std::vector<std::thread> threads;
    for (size_t t = 1; t < n; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    return failure;
  }

  // Where a walk for `prefix` starts: the deepest directory the prefix fully names, and that
  // directory's key prefix ("" or ending in '/').
  std::pair<std::string, std::string> Scope(std::string_view prefix) const {
    std::string dir_key;
    if (!prefix.empty()) {
      std::string_view p = prefix;
      if (p.back() == '/') p.remove_suffix(1);
      ValidateKey(p);
      const size_t slash = prefix.rfind('/');
      if (slash != std::string_view::npos) dir_key = std::string(prefix.substr(0, slash + 1));
    }
    std::string start = root_;
    if (!dir_key.empty()) {
      start = Join(dir_key.substr(0, dir_key.size() - 1));
      CheckInside(start, dir_key);
    }
    return {start, dir_key};
  }

  // Calls fn(path, dir_key, name, type) for every non-directory entry below `dir` (whose key
  // prefix is `dir_key`) in directories that can hold keys starting with `prefix`. Symbolic
  // links to directories are not followed (no cycles).
  using Visit =
      std::function<void(const fs::path&, const std::string&, const std::string&, fs::file_type)>;
  // An entry's own type (a link is a link), from the listing's d_type where the filesystem
  // gives one: no lstat per entry.
  static fs::file_type EntryType(const fs::directory_entry& e, std::error_code& ec) {
    if (e.is_symlink(ec)) return fs::file_type::symlink;
    if (ec) return fs::file_type::none;
    // Not a link: the cached type is the entry's own (libstdc++ keeps d_type).
    if (e.is_directory(ec)) return fs::file_type::directory;
    if (!ec && e.is_regular_file(ec)) return fs::file_type::regular;
    if (ec) return fs::file_type::none;
    return e.symlink_status(ec).type();
  }

  void Walk(const std::string& dir, const std::string& dir_key, std::string_view prefix,
            const Visit& fn) const {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return;
      throw IoError(dir + ": cannot list: " + ec.message());
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const auto type = EntryType(*it, ec);
      if (ec == std::errc::no_such_file_or_directory) {
        // Renamed or removed since the directory was read (a Set's temporary file, say).
        ec.clear();
        continue;
      }
      if (ec) break;
      if (type == fs::file_type::directory) {
        const std::string sub = dir_key + name + "/";
        const std::string_view s = sub;
        if (s.starts_with(prefix) || prefix.starts_with(s))
          Walk(it->path().string(), sub, prefix, fn);
        continue;
      }
      fn(it->path(), dir_key, name, type);
    }
    if (ec) throw IoError(dir + ": cannot list: " + ec.message());
  }

  std::string root_;       // absolute, normalized, no trailing '/'
  std::string canonical_;  // symbolic links resolved; keys must stay below it
  std::shared_ptr<SyncState> sync_;
  static constexpr size_t kMaxRemembered = 1 << 16;
  // Directories found inside the root; started afresh in a forked child (a DataLoader worker
  // forked while the parent's loader threads were reading here held its mutex).
  ForkSafe<std::unordered_set<std::string>> inside_;
};

}  // namespace

std::shared_ptr<KvStore> OpenFileStore(const std::string& root, const FileStoreOptions& options) {
  if (root.empty()) throw InvalidArgument("file store: empty root path");
  if (root.find('\0') != std::string::npos) {
    throw InvalidArgument("file store: root path contains a NUL character");
  }
  std::error_code ec;
  std::string abs = fs::absolute(root, ec).lexically_normal().string();
  if (ec) throw IoError(root + ": cannot resolve: " + ec.message());
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  std::string canonical = fs::weakly_canonical(abs, ec).string();
  if (ec) throw IoError(abs + ": cannot resolve: " + ec.message());
  while (canonical.size() > 1 && canonical.back() == '/') canonical.pop_back();
  auto sync = std::make_shared<SyncState>();
  sync->mode = options.sync;
  sync->method = options.deferred_sync;
  if (sync->method == DeferredSync::kAuto) {
    static const bool syncfs_ok = SyncfsReportsErrors();
    sync->method = syncfs_ok ? DeferredSync::kSyncfs : DeferredSync::kPerFile;
  }
  return std::make_shared<FileStore>(abs, canonical, std::move(sync));
}

std::string FileStoreTemporaryName(std::string_view name, long pid) {
  return TempFileName(name, pid);
}

}  // namespace volbatch
