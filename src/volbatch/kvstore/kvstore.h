// Key -> bytes. Keys are '/'-separated relative paths ("0/1/2", "zarr.json"); every backend
// validates them (ValidateKey) so a key cannot escape the store's root.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "volbatch/core/bytes.h"
#include "volbatch/core/error.h"

namespace volbatch {

using ByteView = std::span<const std::byte>;

// A byte range of a value: `offset` >= 0 counts from the start; offset < 0 means the last
// -offset bytes (a suffix, e.g. a shard index at the end), with `length` ignored.
struct ByteRange {
  int64_t offset = 0;
  int64_t length = -1;  // -1: to the end
};

// The error of a store without conditional writes asked for one.
Error NoConditionalWrites(std::string_view key);

class KvStore {
 public:
  virtual ~KvStore() = default;
  // Absent keys are std::nullopt, not an error.
  virtual std::optional<Bytes> Get(std::string_view key) const = 0;
  // Throws DataLoss naming the key if the range lies outside the value.
  virtual std::optional<Bytes> GetRange(std::string_view key, ByteRange range) const = 0;
  // Atomic: readers see the old value or the new one, never a mix. Durable when it returns,
  // unless the store defers durability to Sync (FileStoreOptions).
  virtual void Set(std::string_view key, ByteView value) = 0;
  // Set of the value made of `pieces` in order (the rows of a chunk where they lie in a larger
  // array): the file store writes them through a small buffer, so the value is never gathered
  // in one piece. The default gathers them and calls Set.
  virtual void SetPieces(std::string_view key, std::span<const ByteView> pieces);
  // Reads a value of exactly `size` bytes straight to where its parts belong: piece i gets its
  // bytes [offset, offset + dest.size()). Pieces come in increasing offsets and do not overlap.
  // kDeclined, with nothing read, when the value has another size or the store cannot (the
  // default): the caller then takes Get's path, which reports what is wrong with the value.
  struct ReadPiece {
    uint64_t offset = 0;
    std::span<std::byte> dest;
  };
  enum class GetIntoResult { kAbsent, kRead, kDeclined };
  virtual GetIntoResult GetInto(std::string_view key, uint64_t size,
                                std::span<const ReadPiece> pieces) const {
    (void)key, (void)size, (void)pieces;
    return GetIntoResult::kDeclined;
  }
  // Absent keys are not an error. Durable like Set.
  virtual void Erase(std::string_view key) = 0;
  // Makes every Set and Erase that returned before this call (through this store, its Sub
  // stores or the store it is a Sub of) durable. Stores that are durable per call need not do
  // anything. Throws IoError naming what could not be synced; after that the store cannot
  // vouch for anything written before, so later calls keep failing.
  virtual void Sync() {}
  // Removes temporary files that writers which died mid-Set left below `prefix` (a key prefix,
  // as in List), and returns how many. Never removes a key, nor a temporary file a running Set
  // may still rename: only those made by a process on this host that no longer exists, or
  // untouched for `stale_after` (which must exceed the longest a Set can take). Stores without
  // temporaries return 0.
  virtual size_t SweepTemporaries(std::string_view prefix, std::chrono::seconds stale_after) {
    (void)prefix;
    (void)stale_after;
    return 0;
  }
  // Conditional writes: compare-and-swap on a value's version (an object store's ETag), so that
  // writers of parts of one value read, modify and write it without a lock. Only a store whose
  // ConditionalWrites() is true is asked; the defaults throw Unsupported.
  virtual bool ConditionalWrites() const { return false; }
  struct Versioned {
    Bytes value;
    std::string version;
  };
  virtual std::optional<Versioned> GetVersioned(std::string_view key) const {
    throw NoConditionalWrites(key);
  }
  // Sets `key` if its version is still `version` (nullopt: only if `key` is absent). False,
  // and nothing written, when another writer changed it first.
  virtual bool SetIfVersion(std::string_view key, ByteView value,
                            const std::optional<std::string>& version) {
    (void)value, (void)version;
    throw NoConditionalWrites(key);
  }
  // Erases `key` if its version is still `version`; false when another writer changed it.
  virtual bool EraseIfVersion(std::string_view key, const std::string& version) {
    (void)version;
    throw NoConditionalWrites(key);
  }
  // How many times a value that fails to decode (a checksum, a shard index, a codec's frame)
  // is read: a network store can deliver a body corrupted in flight, which reading again
  // fixes; a file that is corrupt stays so. Never decoded as data either way.
  virtual int ReadAttempts() const { return 1; }
  // How many calls this store serves well at once: 1 where calls are local (a file store's
  // cost CPU and page cache, which libtbb's threads already spread), tens where each call
  // waits on the network (an object store). Datasets keep this many units in flight.
  virtual int Concurrency() const { return 1; }
  // Every key starting with `prefix` (recursively), sorted.
  virtual std::vector<std::string> List(std::string_view prefix) const = 0;
  // List with each value's size in bytes: what an object store's listing says anyway. Stores
  // whose listing does not (the default) give -1: a size would cost a call per key.
  struct KeySize {
    std::string key;
    int64_t size = -1;
  };
  virtual std::vector<KeySize> ListSizes(std::string_view prefix) const {
    std::vector<KeySize> out;
    for (std::string& k : List(prefix)) out.push_back({std::move(k), -1});
    return out;
  }
  // Where a key lives, for messages ("/data/raw.n5/s0/0/1/2").
  virtual std::string Describe(std::string_view key) const = 0;
  // A store rooted at `prefix` inside this one ("raw/s0").
  virtual std::shared_ptr<KvStore> Sub(std::string_view prefix) const = 0;
};

// Throws InvalidArgument naming the key if it is empty, absolute, has "." or ".." segments,
// a NUL, a backslash, or an empty segment.
void ValidateKey(std::string_view key);

// Long enough that no Set is still writing a temporary file untouched for so long.
inline constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(1);

enum class SyncMode {
  kEachWrite,  // every Set/Erase is durable when it returns (an fsync of file and directory)
  kDeferred,   // Set/Erase are atomic for readers at once, durable after the next Sync
};

// How a deferred store's Sync works (see file_store.cc for the measurements).
enum class DeferredSync {
  kAuto,     // kSyncfs where the kernel reports writeback errors through syncfs (Linux >= 5.8)
  kSyncfs,   // one syncfs(2) per filesystem written to
  kPerFile,  // an fsync of every file written and directory changed, many at a time
};

struct FileStoreOptions {
  SyncMode sync = SyncMode::kEachWrite;
  DeferredSync deferred_sync = DeferredSync::kAuto;
};

// A store over a local directory (created on first write). Writes go to a temporary file in
// the same directory that is renamed over the final name; file_store.cc describes the layout
// and what each SyncMode costs.
std::shared_ptr<KvStore> OpenFileStore(const std::string& root,
                                       const FileStoreOptions& options = {});

// The temporary file name a file store's Set uses for `name` in process `pid` of this host
// (".<name>.tmp.<pid>.<host tag><random>"), so tests can fake what a crashed writer leaves.
std::string FileStoreTemporaryName(std::string_view name, long pid);

}  // namespace volbatch
