#include "volbatch/store/dataset.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "volbatch/core/concurrent_for.h"
#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/kvstore/location.h"
#include "volbatch/store/fill_value.h"
#include "volbatch/store/hdf5_location.h"
#include "volbatch/store/unit_lock.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

bool IsContainerName(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".n5") || ends(".zarr");
}

// The outermost ".n5"/".zarr" directory on the location is the container root; without one,
// the array's own directory is. A URL splits the same way below its bucket or host.
std::pair<std::string, std::string> SplitContainer(const std::string& location) {
  const std::string abs = AbsoluteLocation(location);
  std::vector<std::string> parts;
  std::string rest = abs;
  while (true) {
    auto [parent, name] = SplitLocation(rest);
    if (name.empty() || parent == rest) break;
    parts.insert(parts.begin(), name);
    rest = parent;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (IsContainerName(parts[i])) {
      std::string root = rest;
      for (size_t j = 0; j <= i; ++j) root = JoinLocation(root, parts[j]);
      std::string key;
      for (size_t j = i + 1; j < parts.size(); ++j) key += (key.empty() ? "" : "/") + parts[j];
      return {root, key};
    }
  }
  return {abs, ""};
}

std::string FormatFromPath(const std::string& location) {
  std::string rest = AbsoluteLocation(location);
  while (true) {
    auto [parent, name] = SplitLocation(rest);
    if (name.size() > 3 && name.ends_with(".n5")) return "n5";
    if (name.empty() || parent == rest) return "zarr3";
    rest = parent;
  }
}

// Every storage unit read or written allocates and frees a few unit-sized buffers (the unit, its
// encoded bytes, the file's bytes). glibc's defaults serve buffers above a dynamic mmap
// threshold with fresh mappings and trim freed memory above a small threshold back to the
// kernel, so nearly every unit's buffers start as untouched pages, and on the VMs we measure
// on a first touch costs ~10 us per 4 KiB page: writing 256 MB of zstd:1 shards took 3.8 CPU
// seconds instead of 0.8. Fixed thresholds keep freed buffers in the heap for the next unit,
// at the price of a heap that keeps up to 256 MiB of freed memory per arena. Left alone when
// the process tunes malloc itself (GLIBC_TUNABLES) or VOLBATCH_MALLOC_DEFAULTS is set.
void TuneMallocForUnits() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (std::getenv("VOLBATCH_MALLOC_DEFAULTS") || (tunables && std::strstr(tunables, "malloc"))) {
      return;
    }
    // Block-sized arrays (a 256^3 float32 result is 64 MiB) are above any mmap threshold, and
    // a thread's arena cannot grow a heap past 64 MiB, so it maps them afresh whatever
    // M_MMAP_MAX says and every block faulted its result in (7% of a gaussian job's time, in
    // the kernel zeroing huge pages). One arena and no mmap keep them in the main heap, where
    // the next block reuses them; the lock is taken a few times per chunk, not per voxel.
    ::mallopt(M_ARENA_MAX, 1);
    ::mallopt(M_MMAP_MAX, 0);
    ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
#endif
}

// Partial writes lock a file in the array's directory (unit_lock.h); an object store has no
// directory to lock in and guards them otherwise (Dataset::WritePartOfUnit).
bool LockPartialWrites(const std::string& path, const DatasetOptions& options) {
  return options.lock_partial_writes && !IsUrl(path);
}

}  // namespace

bool Dataset::Exists(const std::string& path) {
  if (!IsUrl(path) && !fs::is_directory(path)) {
    // A path into an HDF5 file counts: Open then says what is (or is not) at it.
    try {
      return FindHdf5Location(path).has_value();
    } catch (const Error&) {
      return false;
    }
  }
  auto kv = OpenKvStore(path);
  return DetectFormat(*kv) != nullptr;
}

Dataset Dataset::Open(const std::string& path, const DatasetOptions& dataset_options) {
  if (!IsUrl(path)) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);  // one stat: a metadata round trip
    const bool missing = status.type() == fs::file_type::not_found;
    if (missing || fs::is_regular_file(status)) {
      // Only paths that are no directory pay for the look for an HDF5 file.
      if (std::optional<Hdf5Location> where = FindHdf5Location(path)) {
        return OpenHdf5(path, *where);
      }
    }
    if (missing) throw NotFound(path + ": no such dataset");
    if (ec) throw IoError(path + ": " + ec.message());
    if (!fs::is_directory(status)) {
      throw InvalidArgument(path +
                            ": not a dataset directory (N5, Zarr v2 or Zarr v3 array) nor an "
                            "HDF5 file");
    }
  }
  TuneMallocForUnits();
  auto kv = OpenKvStore(path, {.sync = dataset_options.sync});
  const Format* format = DetectFormat(*kv);
  if (!format) {
    throw NotFound(path +
                   ": not an array (no N5 attributes.json with dimensions, .zarray or zarr.json)");
  }
  return Dataset(path, kv, format->open(kv, path), LockPartialWrites(path, dataset_options));
}

Dataset Dataset::OpenHdf5(const std::string& path, const Hdf5Location& where) {
  std::shared_ptr<FormatDriver> driver = LoadHdf5Api(where).open(where);
  // HDF5 reads go through libhdf5, not the store; Dataset still asks its store how many
  // units to read at once (one: a file's directory).
  auto kv = OpenKvStore(SplitLocation(where.file).first);
  return Dataset(path, kv, std::move(driver), /*lock_partial_writes=*/false);
}

Dataset Dataset::Create(const std::string& path, const CreateOptions& options,
                        const DatasetOptions& dataset_options) {
  RefuseHdf5Write(path);
  TuneMallocForUnits();
  const std::string format_name = options.format.empty() ? FormatFromPath(path) : options.format;
  const Format* format = FindFormat(format_name);
  if (!format) {
    std::string known;
    for (const auto& n : FormatNames()) known += (known.empty() ? "" : ", ") + n;
    throw InvalidArgument("format \"" + format_name + "\" is unknown (known: " + known + ")");
  }
  CheckRank(options.shape.size(), "shape");
  if (options.chunks.size() != options.shape.size()) {
    throw InvalidArgument("chunks " + ShapeToString(options.chunks) + " and shape " +
                          ShapeToString(options.shape) + " differ in rank");
  }
  for (size_t i = 0; i < options.shape.size(); ++i) {
    if (options.shape[i] < 0) throw InvalidArgument("shape must not be negative");
    if (options.chunks[i] <= 0) {
      throw InvalidArgument("chunks " + ShapeToString(options.chunks) + " must be positive");
    }
  }
  // Deferred: the metadata written below and the erasures are synced once, at the end.
  const FileStoreOptions store_options{.sync = dataset_options.sync};
  auto kv = OpenKvStore(path, store_options);
  const bool url = IsUrl(path);
  if (url || fs::exists(path)) {
    if (!url && !fs::is_directory(path)) {
      throw AlreadyExists(path + ": exists and is not a directory");
    }
    if (DetectFormat(*kv)) {
      if (!options.overwrite) {
        throw AlreadyExists(path + ": dataset exists (pass --overwrite to replace it)");
      }
      for (const auto& key : kv->List("")) kv->Erase(key);
    } else if (url ? !kv->List("").empty() : !fs::is_empty(path)) {
      throw AlreadyExists(
          path +
          (url ? ": holds keys and is not an array" : ": directory exists and is not an array") +
          "; refusing to write into it");
    }
  }
  auto [root, key_in_root] = SplitContainer(path);
  auto root_kv = OpenKvStore(root, store_options);
  auto driver = format->create(kv, root_kv, key_in_root, options);
  try {
    root_kv->Sync();
    kv->Sync();
  } catch (const Error& e) {
    throw WithContext(e, path + ": syncing the new array's metadata");
  }
  return Dataset(path, kv, driver, LockPartialWrites(path, dataset_options));
}

Shape Dataset::UnitGrid() const {
  const auto& l = layout();
  Shape g(l.shape.size());
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = (l.shape[i] + l.write_chunks[i] - 1) / l.write_chunks[i];
  return g;
}

void Dataset::CheckRegion(const Box& region, const char* op) const {
  if (region.rank() != rank()) {
    throw InvalidArgument(path_ + ": " + op + " region " + region.ToString() + " has rank " +
                          std::to_string(region.rank()) + ", the array has rank " +
                          std::to_string(rank()));
  }
  for (size_t i = 0; i < rank(); ++i) {
    if (region.shape[i] < 0 || region.begin[i] < 0 || region.end(i) > shape()[i]) {
      throw InvalidArgument(path_ + ": " + op + " region " + region.ToString() +
                            " lies outside the array's shape " + ShapeToString(shape()));
    }
  }
}

template <typename F>
void Dataset::ForEachUnit(size_t n, const F& f) const {
  const int width = kv_->Concurrency();
  if (width > 1) {
    ConcurrentFor(n, width, f);
  } else {
    ParallelFor(size_t{0}, n, f);
  }
}

bool Dataset::ReadUnitInto(const Shape& idx, const Box& local, Array& out, const Shape& dst) const {
  const int attempts = std::max(1, kv_->ReadAttempts());
  for (int attempt = 1;; ++attempt) {
    try {
      return driver_->ReadUnitInto(*kv_, idx, local, out, dst);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kDataLoss || attempt >= attempts) throw;
    }
  }
}

Array Dataset::Read(const Box& region) const {
  CheckRegion(region, "read");
  Array out = Array::Uninitialized(dtype(), region.shape);  // Read sets every element
  Read(region, out);
  return out;
}

void Dataset::Read(const Box& region, Array& out) const {
  if (out.shape() != region.shape) {
    throw Internal("Dataset::Read: output array does not match the region");
  }
  Read(region, out, Shape(region.rank(), 0));
}

void Dataset::Read(const Box& region, Array& out, const Shape& out_origin) const {
  CheckRegion(region, "read");
  bool fits = out.rank() == region.rank() && out_origin.size() == region.rank();
  for (size_t i = 0; fits && i < region.rank(); ++i) {
    fits = out_origin[i] >= 0 && out_origin[i] + region.shape[i] <= out.shape()[i];
  }
  if (!fits || out.dtype() != dtype()) {
    throw Internal("Dataset::Read: output array does not hold the region");
  }
  if (region.empty()) return;
  const auto& l = layout();
  const std::vector<Shape> units = GridCells(region, l.write_chunks);
  ForEachUnit(units.size(), [&](size_t u) {
    const Shape& idx = units[u];
    Shape origin(rank());
    for (size_t i = 0; i < rank(); ++i) origin[i] = idx[i] * l.write_chunks[i];
    const Box inter = Intersect(Box(origin, l.write_chunks), region);
    const Box local = inter.Relative(origin);
    Shape dst = inter.Relative(region.begin).begin;
    for (size_t i = 0; i < rank(); ++i) dst[i] += out_origin[i];
    if (!ReadUnitInto(idx, local, out, dst)) {
      Array fill = Array::Filled(dtype(), inter.shape, l.fill_value);
      CopyRegion(fill, Shape(rank(), 0), out, dst, inter.shape);
    }
  });
}

void Dataset::CheckWritable() const {
  if (driver_->read_only()) {
    throw Unsupported(path_ + ": volbatch reads " + format() +
                      " but does not write it; write a .zarr or .n5 dataset instead");
  }
}

void Dataset::Write(const Box& region, const Array& data) {
  CheckWritable();
  CheckRegion(region, "write");
  if (data.dtype() != dtype()) {
    throw InvalidArgument(path_ + ": cannot write " + std::string(DataTypeName(data.dtype())) +
                          " data into a " + std::string(DataTypeName(dtype())) + " array");
  }
  if (data.shape() != region.shape) {
    throw InvalidArgument(path_ + ": data of shape " + ShapeToString(data.shape()) +
                          " does not match the region " + region.ToString());
  }
  if (region.empty()) return;
  const auto& l = layout();
  const Box volume = Box::FromShape(l.shape);
  const std::vector<Shape> units = GridCells(region, l.write_chunks);
  ForEachUnit(units.size(), [&](size_t u) {
    const Shape& idx = units[u];
    Shape origin(rank());
    for (size_t i = 0; i < rank(); ++i) origin[i] = idx[i] * l.write_chunks[i];
    const Box unit_box(origin, l.write_chunks);
    const Box inter = Intersect(unit_box, region);
    const Box valid = Intersect(unit_box, volume);
    if (inter == unit_box) {
      WriteWholeUnit(idx, data, inter.Relative(region.begin).begin);
      return;
    }
    if (inter == valid) {
      // All of the unit inside the volume is in `data`: nothing to keep.
      Array unit = Array::Filled(dtype(), l.write_chunks, l.fill_value);
      CopyRegion(data, inter.Relative(region.begin).begin, unit, inter.Relative(origin).begin,
                 inter.shape);
      WriteUnit(idx, unit);
      return;
    }
    WritePartOfUnit(idx, inter, region.begin, data);
  });
}

// Read, modify, write: another writer of the unit must not slip in between. On a filesystem a
// lock excludes it (unit_lock.h); on an object store with conditional writes the write is a
// compare-and-swap on the unit's version, tried again when another writer came first; on one
// without, this process's threads take turns per unit and a second process is refused
// (partial_writer.h).
void Dataset::WritePartOfUnit(const Shape& idx, const Box& inter, const Shape& region_begin,
                              const Array& data) {
  const auto& l = layout();
  uint64_t linear = 0;
  const Shape grid = UnitGrid();
  for (size_t i = 0; i < rank(); ++i) {
    linear = linear * static_cast<uint64_t>(grid[i]) + static_cast<uint64_t>(idx[i]);
  }
  std::optional<UnitLock> lock;
  std::unique_lock<std::mutex> stripe;
  if (lock_partial_writes_) {
    lock.emplace(path_, linear);
  } else if (IsUrl(path_)) {
    if (kv_->ConditionalWrites()) {
      WritePartByVersion(idx, inter, region_begin, data);
      return;
    }
    if (!partial_writer_) throw Internal(path_ + ": no partial-writer claim");
    partial_writer_->Hold();
    stripe = std::unique_lock((*unit_stripes_)[linear % unit_stripes_->size()]);
  }
  Shape origin(rank());
  for (size_t i = 0; i < rank(); ++i) origin[i] = idx[i] * l.write_chunks[i];
  auto existing = driver_->ReadUnitRegion(*kv_, idx, Box::FromShape(l.write_chunks));
  Array unit =
      existing ? std::move(*existing) : Array::Filled(dtype(), l.write_chunks, l.fill_value);
  CopyRegion(data, inter.Relative(region_begin).begin, unit, inter.Relative(origin).begin,
             inter.shape);
  WriteUnit(idx, unit);
}

void Dataset::WritePartByVersion(const Shape& idx, const Box& inter, const Shape& region_begin,
                                 const Array& data) {
  const auto& l = layout();
  const std::string key = driver_->UnitKey(idx);
  Shape origin(rank());
  for (size_t i = 0; i < rank(); ++i) origin[i] = idx[i] * l.write_chunks[i];
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::optional<KvStore::Versioned> got = kv_->GetVersioned(key);
    Array unit;
    std::optional<Bytes> encoded;
    try {
      unit = got ? driver_->DecodeOwnedUnit(Bytes(got->value), idx)
                 : Array::Filled(dtype(), l.write_chunks, l.fill_value);
      CopyRegion(data, inter.Relative(region_begin).begin, unit, inter.Relative(origin).begin,
                 inter.shape);
      encoded = driver_->EncodeUnit(unit, idx);
    } catch (const Error& e) {
      throw WithContext(e, kv_->Describe(key));
    }
    const std::optional<std::string> version =
        got ? std::optional<std::string>(got->version) : std::nullopt;
    const bool written = encoded ? kv_->SetIfVersion(key, *encoded, version)
                                 : (!got || kv_->EraseIfVersion(key, got->version));
    if (written) return;
  }
  throw IoError(kv_->Describe(key) + ": other writers changed this unit " +
                std::to_string(kAttempts) + " times while this write tried to update it");
}

void Dataset::WriteUnit(const Shape& unit_index, const Array& unit) {
  CheckWritable();
  const std::string key = driver_->UnitKey(unit_index);
  std::optional<Bytes> encoded;
  try {
    encoded = driver_->EncodeUnit(unit, unit_index);
  } catch (const Error& e) {
    throw WithContext(e, kv_->Describe(key));
  }
  Store(key, encoded);
}

namespace {

// Each thread's buffer for encoding whole units, taken while in use (a unit that a waiting
// thread runs meanwhile, nested, finds it empty and allocates its own) and given back after,
// unless it grew past kKeepBytes (a shard, say): a large one goes back to the heap rather
// than stay with the thread.
constexpr size_t kKeepBytes = size_t{8} << 20;

Bytes& ThreadUnitBuffer() {
  thread_local Bytes buffer;
  return buffer;
}

class UnitScratch {
 public:
  UnitScratch() : bytes_(std::move(ThreadUnitBuffer())) {}
  ~UnitScratch() {
    if (bytes_.capacity() <= kKeepBytes) ThreadUnitBuffer() = std::move(bytes_);
  }
  UnitScratch(const UnitScratch&) = delete;
  UnitScratch& operator=(const UnitScratch&) = delete;
  Bytes& bytes() { return bytes_; }

 private:
  Bytes bytes_;
};

}  // namespace

void Dataset::WriteWholeUnit(const Shape& idx, const Array& data, const Shape& origin) {
  const std::string key = driver_->UnitKey(idx);
  UnitScratch scratch;
  std::optional<UnitBytes> encoded;
  try {
    encoded = driver_->EncodeUnitView(data, origin, idx, scratch.bytes());
  } catch (const Error& e) {
    throw WithContext(e, kv_->Describe(key));
  }
  if (encoded) {
    kv_->SetPieces(key, *encoded);
  } else {
    kv_->Erase(key);
  }
}

void Dataset::Store(const std::string& key, const std::optional<Bytes>& encoded) {
  if (encoded) {
    kv_->Set(key, *encoded);
  } else {
    kv_->Erase(key);
  }
}

void Dataset::Sync() {
  try {
    kv_->Sync();
  } catch (const Error& e) {
    throw WithContext(e, path_);
  }
}

size_t Dataset::SweepTemporaries(std::chrono::seconds stale_after) {
  return kv_->SweepTemporaries("", stale_after);
}

nlohmann::json Dataset::Info() const {
  const auto& l = layout();
  nlohmann::json j;
  j["path"] = path_;
  j["format"] = format();
  j["shape"] = l.shape;
  j["dtype"] = DataTypeName(l.dtype);
  j["chunks"] = l.chunks;
  if (l.write_chunks != l.chunks) j["shards"] = l.write_chunks;
  j["fill_value"] = FillValueToJson(l.fill_value, l.dtype);
  j["codecs"] = driver_->CodecSummary();
  j["metadata"] = driver_->Metadata();
  j["attributes"] = driver_->Attributes();
  const std::vector<std::string> notes = driver_->Notes(*kv_);
  if (!notes.empty()) j["notes"] = notes;
  return j;
}

}  // namespace volbatch
