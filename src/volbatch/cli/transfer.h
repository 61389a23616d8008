// import / export / copy: moving volumes between array files (.npy, .tif, .raw) and datasets,
// slab by slab so that memory stays bounded by a few storage units' worth of planes. Import and
// copy write with deferred durability and sync once at the end: the destination is complete
// and durable when they return, and one that a crash interrupts is simply written again.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/store/dataset.h"

namespace volbatch {

struct TransferOptions {
  std::optional<Shape> chunks;       // default: the source's chunks, or ~1 MiB chunks
  std::optional<std::string> codec;  // a codec SPEC; default: the source's codecs or zstd:3
  std::optional<Shape> shards;       // Zarr v3 only
  std::string format;                // n5 | zarr2 | zarr3; empty: from the path
  nlohmann::json fill_value = nullptr;
  bool overwrite = false;
};

// Chunks of about `target_bytes` for an array of `shape`: halves the largest axis until it fits.
// The --codec flag's spec (default "zstd:3") checked against arrays of `dtype`; errors name
// the flag.
nlohmann::json ParseCodecFlag(const std::optional<std::string>& codec, DataType dtype);

Shape DefaultChunks(const Shape& shape, DataType dtype, int64_t target_bytes = 1 << 20);

// SRC: .npy, a multi-page .tif/.tiff, a folder of .tif slices, or a dataset.
Dataset ImportVolume(const std::string& src, const std::string& dst,
                     const TransferOptions& options);
// DST: .npy, .tif/.tiff or .raw. Refuses to overwrite an existing file.
void ExportVolume(const std::string& src, const std::string& dst,
                  const std::optional<std::string>& roi);
Dataset CopyDataset(const std::string& src, const std::string& dst, const TransferOptions& options);

// Copies `src` into the new dataset `dst` block by block (blocks made of whole storage units).
// Durable only after dst.Sync() if dst defers durability.
void CopyInto(const Dataset& src, Dataset& dst);

}  // namespace volbatch
