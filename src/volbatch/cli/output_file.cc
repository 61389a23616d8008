#include "volbatch/cli/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

std::string ErrnoText() { return std::strerror(errno); }

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 12; ++i, v >>= 4) s += kHex[v & 15];
  return s;
}

}  // namespace

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  const fs::path p(path_);
  if (p.filename().empty()) throw InvalidArgument(path_ + ": not a file name");
  if (fs::is_directory(p)) throw InvalidArgument(path_ + ": is a directory");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir))
    throw NotFound(path_ + ": directory " + dir.string() + " does not exist");
  for (int attempt = 0; attempt < 8 && fd_ < 0; ++attempt) {
    temp_path_ = (dir / ("." + p.filename().string() + ".tmp-" + RandomSuffix())).string();
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) throw IoError(path_ + ": cannot create a temporary file: " + ErrnoText());
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void OutputFile::Append(std::span<const std::byte> data) { WriteAt(size_, data); }

void OutputFile::WriteAt(uint64_t offset, std::span<const std::byte> data) {
  if (fd_ < 0) throw Internal(path_ + ": write after close");
  const std::byte* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path_ + ": write failed: " + ErrnoText());
    }
    p += n;
    left -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  if (offset > size_) size_ = offset;
}

void OutputFile::CloseDescriptor() {
  if (fd_ >= 0 && ::close(fd_) != 0) {
    fd_ = -1;
    throw IoError(path_ + ": close failed: " + ErrnoText());
  }
  fd_ = -1;
}

void OutputFile::Commit() {
  if (committed_) return;
  if (fd_ < 0) {
    // A writer that used the temp path itself (libtiff) closed it; sync it by reopening.
    fd_ = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError(path_ + ": cannot reopen the temporary file: " + ErrnoText());
  }
  if (::fsync(fd_) != 0) throw IoError(path_ + ": fsync failed: " + ErrnoText());
  CloseDescriptor();
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(path_ + ": cannot rename the temporary file into place: " + ErrnoText());
  }
  committed_ = true;
  const fs::path p(path_);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace volbatch
