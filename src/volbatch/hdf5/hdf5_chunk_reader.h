// Chunks of a chunked HDF5 dataset read as stored (H5Dread_chunk: one read of the compressed
// bytes, under the HDF5 lock) and decoded outside the lock (inflate, unshuffle, byte swap), so
// chunks decompress on every core; H5Dread would decompress inside libhdf5, under the lock,
// one chunk at a time. Only for the filters decoded here (deflate, shuffle, any order); any
// other pipeline is read with H5Dread. Cost per chunk: its stored bytes read once, one
// chunk-sized buffer decoded (a second one when shuffled), nothing else under the lock.
#pragma once

#include <hdf5.h>

#include <memory>
#include <optional>
#include <string>

#include "volbatch/codec/codec.h"
#include "volbatch/hdf5/hdf5_dataset_info.h"

namespace volbatch {

class Hdf5ChunkReader {
 public:
  // nullopt when the dataset is not chunked or its pipeline has a filter not decoded here.
  static std::optional<Hdf5ChunkReader> Make(const Hdf5DatasetInfo& info);

  // The whole chunk `index` (the chunk grid's coordinates; chunk shape, native byte order), or
  // nullopt if it was never written (it reads as the fill value). DataLoss naming `where` and
  // the chunk if its bytes do not decode to a chunk.
  std::optional<Array> Read(hid_t dataset, const Shape& index, const std::string& where) const;

 private:
  struct Filter {
    bool deflate = false;  // else shuffle
  };
  DataType dtype_ = DataType::kUint8;
  Shape chunks_;
  std::vector<Filter> filters_;  // pipeline order (encoding order)
  bool swap_ = false;            // stored in the other byte order
  std::shared_ptr<const BytesCodec> inflate_;
};

}  // namespace volbatch
