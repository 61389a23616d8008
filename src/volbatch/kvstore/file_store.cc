// The local filesystem store: key "a/b/c" is the file "<root>/a/b/c", holding the value's bytes
// verbatim (no header, no padding).
//
// Set writes "<dir>/.<name>.tmp.<pid>.<16 hex digits>" in the key's own directory, fsyncs it,
// renames it over the final name and fsyncs the directory, so a reader sees the old value or the
// new one and a crash leaves at most a temporary file (which List hides). That costs one
// open/write/fsync/rename/fsync(dir) per Set, plus a mkdir and a parent fsync per directory it
// has to create. Get is open + fstat + pread; GetRange reads only the requested bytes.
// Every key is resolved against the canonical root (one lstat per path component) so that a
// symbolic link cannot lead a key outside the store.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch {
namespace {
namespace fs = std::filesystem;

std::string ErrnoText(int err) { return std::system_category().message(err); }

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
bool IsTempName(std::string_view name) {
  if (name.size() < 2 || name[0] != '.') return false;
  const size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string_view::npos || tmp < 2) return false;
  std::string_view rest = name.substr(tmp + 5);
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  for (char c : rest.substr(0, dot)) {
    if (c < '0' || c > '9') return false;
  }
  std::string_view hex = rest.substr(dot + 1);
  if (hex.size() != 16) return false;
  return std::all_of(hex.begin(), hex.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string RandomHex() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd() ^ std::hash<std::thread::id>()(std::this_thread::get_id());
  }());
  static const char* digits = "0123456789abcdef";
  uint64_t v = rng();
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

void FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw IoError(dir + ": cannot open directory to sync it: " + ErrnoText(errno));
  // Some filesystems cannot sync directories (EINVAL); there is nothing more we can do there.
  if (::fsync(fd.get()) != 0 && errno != EINVAL) {
    throw IoError(dir + ": fsync of directory failed: " + ErrnoText(errno));
  }
}

Bytes ReadAt(int fd, const std::string& path, uint64_t offset, uint64_t length) {
  Bytes out(length);
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, uint64_t{1} << 30));
    const ssize_t n = ::pread(fd, out.data() + done, want, static_cast<off_t>(offset + done));
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
  return out;
}

class FileStore : public KvStore {
 public:
  FileStore(std::string root, std::string canonical_root)
      : root_(std::move(root)), canonical_(std::move(canonical_root)) {}

  std::optional<Bytes> Get(std::string_view key) const override {
    const std::string path = Resolve(key);
    Fd fd = OpenForRead(path);
    if (!fd) return std::nullopt;
    const auto size = FileSize(fd, path);
    if (!size) return std::nullopt;
    return ReadAt(fd.get(), path, 0, *size);
  }

  std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const override {
    const std::string path = Resolve(key);
    if (range.offset >= 0 && range.length < -1) {
      throw InvalidArgument(path + ": byte range length " + std::to_string(range.length) +
                            " is negative");
    }
    Fd fd = OpenForRead(path);
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
    const std::string path = Resolve(key);
    const size_t slash = path.rfind('/');
    const std::string dir = path.substr(0, slash);
    // Long key names would make the temporary name exceed NAME_MAX (255).
    const std::string name = path.substr(slash + 1, 128);
    const std::string tmp =
        dir + "/." + name + ".tmp." + std::to_string(::getpid()) + "." + RandomHex();
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    Fd fd(::open(tmp.c_str(), flags, 0666));
    if (!fd && errno == ENOENT) {
      MakeParents(key);
      fd = Fd(::open(tmp.c_str(), flags, 0666));
    }
    if (!fd)
      throw IoError(path + ": cannot create temporary file " + tmp + ": " + ErrnoText(errno));
    auto fail = [&](const std::string& what, int err) {
      ::unlink(tmp.c_str());
      return IoError(path + ": " + what + ": " + ErrnoText(err));
    };
    size_t done = 0;
    while (done < value.size()) {
      const size_t want = std::min<size_t>(value.size() - done, size_t{1} << 30);
      const ssize_t n = ::write(fd.get(), value.data() + done, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw fail("write failed", errno);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw fail("fsync failed", errno);
    if (fd.Close() != 0) throw fail("close failed", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename failed", errno);
    FsyncDir(dir);
  }

  void Erase(std::string_view key) override {
    const std::string path = Resolve(key);
    if (::unlink(path.c_str()) == 0) {
      FsyncDir(path.substr(0, path.rfind('/')));
      return;
    }
    // A missing file or directory on the way means the key is absent; a directory is no key.
    // Empty parent directories stay: removing them would race with a concurrent Set that has
    // just created them for a sibling key.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return;
    throw IoError(path + ": cannot remove: " + ErrnoText(errno));
  }

  std::vector<std::string> List(std::string_view prefix) const override {
    std::string dir_key;  // the deepest directory fully named by the prefix ("a/b/")
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
    std::vector<std::string> keys;
    Walk(start, dir_key, prefix, keys);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::string Describe(std::string_view key) const override { return Join(key); }

  std::shared_ptr<KvStore> Sub(std::string_view prefix) const override {
    std::string_view p = prefix;
    if (!p.empty() && p.back() == '/') p.remove_suffix(1);
    if (p.empty()) return std::make_shared<FileStore>(root_, canonical_);
    ValidateKey(p);
    const std::string path = Join(p);
    return std::make_shared<FileStore>(path, CheckInside(path, p));
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

  static Fd OpenForRead(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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
    return static_cast<uint64_t>(st.st_size);
  }

  // Creates the root and the key's parent directories, syncing each new directory's parent so
  // the new entry survives a crash along with the file.
  void MakeParents(std::string_view key) const {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec) throw IoError(root_ + ": cannot create directory: " + ec.message());
    size_t pos = 0;
    std::string parent = root_;
    while (true) {
      const size_t slash = key.find('/', pos);
      if (slash == std::string_view::npos) break;
      const std::string dir = Join(key.substr(0, slash));
      if (::mkdir(dir.c_str(), 0777) == 0) {
        FsyncDir(parent);
      } else if (errno != EEXIST) {
        throw IoError(dir + ": cannot create directory: " + ErrnoText(errno));
      }
      parent = dir;
      pos = slash + 1;
    }
  }

  // Collects the files below `dir` (whose key prefix is `dir_key`, "" or ending in '/') whose
  // keys start with `prefix`. Symbolic links to directories are not followed (no cycles).
  void Walk(const std::string& dir, const std::string& dir_key, std::string_view prefix,
            std::vector<std::string>& keys) const {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return;
      throw IoError(dir + ": cannot list: " + ec.message());
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const std::string key = dir_key + name;
      const auto type = it->symlink_status(ec).type();
      if (ec) break;
      if (type == fs::file_type::directory) {
        const std::string sub = key + "/";
        const std::string_view s = sub;
        if (s.starts_with(prefix) || prefix.starts_with(s)) {
          Walk(it->path().string(), sub, prefix, keys);
        }
        continue;
      }
      if (IsTempName(name)) continue;
      if (type == fs::file_type::symlink) {
        std::error_code sec;
        if (!fs::is_regular_file(it->path(), sec)) continue;
        // A link leading outside is not a key of this store (Get would refuse it).
        try {
          CheckInside(it->path().string(), key);
        } catch (const Error&) {
          continue;
        }
      } else if (type != fs::file_type::regular) {
        continue;
      }
      if (std::string_view(key).starts_with(prefix)) keys.push_back(key);
    }
    if (ec) throw IoError(dir + ": cannot list: " + ec.message());
  }

  std::string root_;       // absolute, normalized, no trailing '/'
  std::string canonical_;  // symbolic links resolved; keys must stay below it
};

}  // namespace

std::shared_ptr<KvStore> OpenFileStore(const std::string& root) {
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
  return std::make_shared<FileStore>(abs, canonical);
}

}  // namespace volbatch
