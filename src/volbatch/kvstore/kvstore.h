// Key -> bytes. Keys are '/'-separated relative paths ("0/1/2", "zarr.json"); every backend
// validates them (ValidateKey) so a key cannot escape the store's root.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace volbatch {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;

// A byte range of a value: `offset` >= 0 counts from the start; offset < 0 means the last
// -offset bytes (a suffix, e.g. a shard index at the end), with `length` ignored.
struct ByteRange {
  int64_t offset = 0;
  int64_t length = -1;  // -1: to the end
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Absent keys are std::nullopt, not an error.
  virtual std::optional<Bytes> Get(std::string_view key) const = 0;
  // Throws DataLoss naming the key if the range lies outside the value.
  virtual std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const = 0;
  // Atomic and durable: readers see the old value or the new one, never a mix.
  virtual void Set(std::string_view key, ByteView value) = 0;
  // Absent keys are not an error.
  virtual void Erase(std::string_view key) = 0;
  // Every key starting with `prefix` (recursively), sorted.
  virtual std::vector<std::string> List(std::string_view prefix) const = 0;
  // Where a key lives, for messages ("/data/raw.n5/s0/0/1/2").
  virtual std::string Describe(std::string_view key) const = 0;
  // A store rooted at `prefix` inside this one ("raw/s0").
  virtual std::shared_ptr<KvStore> Sub(std::string_view prefix) const = 0;
};

// Throws InvalidArgument naming the key if it is empty, absolute, has "." or ".." segments,
// a NUL, a backslash, or an empty segment.
void ValidateKey(std::string_view key);

// A store over a local directory (created on first write). Writes go to a temporary file in
// the same directory, are fsync'd and renamed over the final name.
std::shared_ptr<KvStore> OpenFileStore(const std::string& root);

}  // namespace volbatch
