// Dataset: one chunked array in N5, Zarr v2 or Zarr v3, addressed by its directory, or a
// dataset inside an HDF5 file (read-only: `sample.hdf/volumes/raw`, hdf5_location.h). Reads and
// writes any region; work is spread over storage units with oneTBB (limit it with a
// tbb::global_control or task_arena). A write touching part of a unit reads, modifies and
// rewrites that unit; units equal to the fill value are erased rather than stored.
//
// Durability: by default every unit is durable when Write returns (an fsync per file). With
// DatasetOptions{.sync = SyncMode::kDeferred} writes are atomic for readers at once but
// durable only after Sync(), one flush for all of them; a power loss before it can lose or tear
// units written since the last Sync, so record work done only after Sync returns (the engine's
// ledger does). kvstore/file_store.cc has the costs and the argument.
//
// Memory: the first Open or Create fixes glibc's mmap and trim thresholds (32 MiB, 256 MiB) so
// that the unit-sized buffers freed after each unit are reused rather than returned to the
// kernel and faulted in again (dataset.cc says why; VOLBATCH_MALLOC_DEFAULTS=1 or any malloc
// setting in GLIBC_TUNABLES leaves glibc alone).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "volbatch/store/driver.h"
#include "volbatch/store/partial_writer.h"

namespace volbatch {

struct Hdf5Location;

// How a Dataset handle writes (not part of the array: two handles on one array may differ).
struct DatasetOptions {
  SyncMode sync = SyncMode::kEachWrite;
  // A write that covers a unit only in part reads, modifies and rewrites it under a lock
  // (unit_lock.h), so concurrent writers of disjoint parts of one chunk or shard lose no
  // update. Off only to show what happens without it.
  bool lock_partial_writes = true;
};

class Dataset {
 public:
  // Format detected from the metadata in `path`. Throws NotFound naming the path.
  static Dataset Open(const std::string& path, const DatasetOptions& dataset_options = {});
  // Creates the array (and its container and parent groups). Refuses an existing array with
  // AlreadyExists unless options.overwrite, in which case its old chunks are erased first.
  // The metadata is durable when it returns, whatever dataset_options.sync says.
  static Dataset Create(const std::string& path, const CreateOptions& options,
                        const DatasetOptions& dataset_options = {});
  static bool Exists(const std::string& path);

  const std::string& path() const { return path_; }
  std::string format() const { return driver_->format_name(); }
  const ArrayLayout& layout() const { return driver_->layout(); }
  const Shape& shape() const { return layout().shape; }
  DataType dtype() const { return layout().dtype; }
  size_t rank() const { return layout().shape.size(); }
  const FormatDriver& driver() const { return *driver_; }
  const KvStore& kvstore() const { return *kv_; }

  // Missing units read as the fill value. The region must lie inside the array.
  Array Read(const Box& region) const;
  void Read(const Box& region, Array& out) const;
  // Into the part of a larger `out` that starts at `out_origin` (e.g. inside a padded array).
  void Read(const Box& region, Array& out, const Shape& out_origin) const;
  void Write(const Box& region, const Array& data);

  // Writes whole storage unit `unit_index` (an array of write_chunks shape).
  void WriteUnit(const Shape& unit_index, const Array& unit);
  // Number of units along each axis.
  Shape UnitGrid() const;

  // Makes every Write and WriteUnit that returned before it durable (nothing to do unless
  // opened with SyncMode::kDeferred). Throws IoError naming the dataset.
  void Sync();
  // Removes the temporary files of writers that died mid-write (see KvStore::SweepTemporaries)
  // and returns how many; safe while other processes write. Call it before writing a dataset a
  // crashed run may have written.
  size_t SweepTemporaries(std::chrono::seconds stale_after = kStaleTemporaryAge);

  // A summary for `volbatch info --json`.
  nlohmann::json Info() const;

 private:
  Dataset(std::string path, std::shared_ptr<KvStore> kv, std::shared_ptr<FormatDriver> driver,
          bool lock_partial_writes)
      : path_(std::move(path)),
        kv_(std::move(kv)),
        driver_(std::move(driver)),
        lock_partial_writes_(lock_partial_writes),
        partial_writer_(lock_partial_writes_ ? nullptr
                                             : std::make_shared<PartialWriterClaim>(kv_, path_)) {}
  // A dataset inside an HDF5 file (read-only; hdf5_location.h).
  static Dataset OpenHdf5(const std::string& path, const Hdf5Location& where);
  void CheckRegion(const Box& region, const char* op) const;
  // Throws Unsupported naming the dataset if its format is read-only.
  void CheckWritable() const;
  // f(u) for every unit u in [0, n): on libtbb's threads for a local store, on the store's
  // Concurrency() threads for one whose calls wait on the network. (A template: libtbb's
  // tasks then run the caller's lambda itself, which core/parallel.h's TSan edges describe.)
  template <typename F>
  void ForEachUnit(size_t n, const F& f) const;
  // The driver's ReadUnitInto, read again (KvStore::ReadAttempts) when the bytes fail to decode.
  bool ReadUnitInto(const Shape& idx, const Box& local, Array& out, const Shape& dst) const;
  // Sets `key` to `encoded`, or erases it when the unit is all fill value (nullopt).
  void Store(const std::string& key, const std::optional<Bytes>& encoded);
  // Writes unit `idx`, all of which lies in `data` at `origin` (no read, no lock: it is
  // replaced whole), encoded straight from `data` into a reused per-thread buffer.
  void WriteWholeUnit(const Shape& idx, const Array& data, const Shape& origin);
  // Writes the part `inter` of unit `idx` from `data` (whose origin is region_begin), keeping
  // the rest of the unit, safe against other writers of the unit (see the .cc).
  void WritePartOfUnit(const Shape& idx, const Box& inter, const Shape& region_begin,
                       const Array& data);
  // The read-modify-write by compare-and-swap, on a store with conditional writes.
  void WritePartByVersion(const Shape& idx, const Box& inter, const Shape& region_begin,
                          const Array& data);

  std::string path_;
  std::shared_ptr<KvStore> kv_;
  std::shared_ptr<FormatDriver> driver_;
  bool lock_partial_writes_ = true;
  // On a store without files or conditional writes: the one-writer marker, and the threads of
  // this process kept apart per unit (stripes by the unit's index).
  std::shared_ptr<PartialWriterClaim> partial_writer_;
  std::shared_ptr<std::array<std::mutex, 64>> unit_stripes_ =
      std::make_shared<std::array<std::mutex, 64>>();
};

}  // namespace volbatch
