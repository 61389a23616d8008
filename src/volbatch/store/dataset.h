// Dataset: one chunked array in N5, Zarr v2 or Zarr v3, addressed by its directory. Reads and
// writes any region; work is spread over storage units with oneTBB (limit it with a
// tbb::global_control or task_arena). A write touching part of a unit reads, modifies and
// rewrites that unit; units equal to the fill value are erased rather than stored.
#pragma once

#include <memory>
#include <string>

#include "volbatch/store/driver.h"

namespace volbatch {

class Dataset {
 public:
  // Format detected from the metadata in `path`. Throws NotFound naming the path.
  static Dataset Open(const std::string& path);
  // Creates the array (and its container and parent groups). Refuses an existing array with
  // AlreadyExists unless options.overwrite, in which case its old chunks are erased first.
  static Dataset Create(const std::string& path, const CreateOptions& options);
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
  void Write(const Box& region, const Array& data);

  // Writes whole storage unit `unit_index` (an array of write_chunks shape).
  void WriteUnit(const Shape& unit_index, const Array& unit);
  // Number of units along each axis.
  Shape UnitGrid() const;

  // A summary for `volbatch info --json`.
  nlohmann::json Info() const;

 private:
  Dataset(std::string path, std::shared_ptr<KvStore> kv, std::shared_ptr<FormatDriver> driver)
      : path_(std::move(path)), kv_(std::move(kv)), driver_(std::move(driver)) {}
  void CheckRegion(const Box& region, const char* op) const;

  std::string path_;
  std::shared_ptr<KvStore> kv_;
  std::shared_ptr<FormatDriver> driver_;
};

}  // namespace volbatch
