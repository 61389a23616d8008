// Test helpers for the train layer: small datasets with known contents in a temporary folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "volbatch/codec/registry.h"
#include "volbatch/store/dataset.h"

namespace volbatch::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_((std::filesystem::temp_directory_path() /
               ("volbatch_train_" + tag + "_" + std::to_string(::getpid())))
                  .string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A dataset whose voxel at (z, y, x) (C order, any rank) is f(linear index, coordinates).
template <typename T>
Dataset MakeDataset(const std::string& path, const Shape& shape, const Shape& chunks,
                    const std::function<T(const Shape&)>& f, const std::string& format = "zarr2",
                    std::optional<Shape> shards = std::nullopt,
                    const std::string& codec = "zstd:1") {
  CreateOptions c;
  c.format = format;
  c.shape = shape;
  c.chunks = chunks;
  c.shards = shards;
  c.codecs = ParseCodecSpec(codec);
  c.dtype = [] {
    if constexpr (std::is_same_v<T, uint8_t>) return DataType::kUint8;
    if constexpr (std::is_same_v<T, uint16_t>) return DataType::kUint16;
    if constexpr (std::is_same_v<T, uint32_t>) return DataType::kUint32;
    if constexpr (std::is_same_v<T, int32_t>) return DataType::kInt32;
    if constexpr (std::is_same_v<T, float>) return DataType::kFloat32;
    return DataType::kUint64;
  }();
  c.overwrite = true;
  Dataset d = Dataset::Create(path, c, {.sync = SyncMode::kDeferred});
  Array a(c.dtype, shape);
  T* p = a.data_as<T>();
  Shape idx(shape.size(), 0);
  for (Index i = 0; i < a.num_elements(); ++i) {
    p[i] = f(idx);
    for (size_t k = shape.size(); k-- > 0;) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  d.Write(Box::FromShape(shape), a);
  d.Sync();
  return d;
}

}  // namespace volbatch::testing
