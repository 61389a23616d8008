// OutputFile: an exported file is written under a temporary name in its destination directory
// and renamed over the final name only once it is complete and fsync'd, so a reader (or a
// crashed export) never leaves a half-written .npy/.raw/.tif behind under the real name. The
// cost is one fsync of the file and one of the directory at Commit().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace volbatch {

class OutputFile {
 public:
  // Creates "<dir>/.<name>.tmp-<random>" beside `path`. Throws IoError naming `path`.
  explicit OutputFile(std::string path);
  // Removes the temporary file unless Commit() succeeded.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  // File descriptor of the temporary file (-1 after Commit or Abandon).
  int fd() const { return fd_; }

  void Append(std::span<const std::byte> data);
  void WriteAt(uint64_t offset, std::span<const std::byte> data);
  uint64_t size() const { return size_; }
  // Closes our descriptor without committing, for writers (libtiff) that reopen the temp path.
  void CloseDescriptor();
  // fsync, rename over `path`, fsync the directory.
  void Commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace volbatch
