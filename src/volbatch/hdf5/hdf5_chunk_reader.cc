#include "volbatch/hdf5/hdf5_chunk_reader.h"

#include <bit>
#include <cstring>
#include <vector>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/hdf5/hdf5_handle.h"

namespace volbatch {
namespace {

// HDF5's shuffle filter stores byte b of every element together: [b0 of all, b1 of all, ...].
Bytes Unshuffle(const Bytes& in, size_t element_size) {
  Bytes out(in.size());
  const size_t n = in.size() / element_size;
  for (size_t b = 0; b < element_size; ++b) {
    const std::byte* src = in.data() + b * n;
    for (size_t i = 0; i < n; ++i) out[i * element_size + b] = src[i];
  }
  // Bytes past the last whole element are stored as they are.
  std::memcpy(out.data() + n * element_size, in.data() + n * element_size,
              in.size() - n * element_size);
  return out;
}

void SwapBytes(Bytes& data, size_t element_size) {
  for (size_t i = 0; i + element_size <= data.size(); i += element_size) {
    std::byte* e = data.data() + i;
    for (size_t a = 0, b = element_size - 1; a < b; ++a, --b) std::swap(e[a], e[b]);
  }
}

}  // namespace

std::optional<Hdf5ChunkReader> Hdf5ChunkReader::Make(const Hdf5DatasetInfo& info) {
  if (!info.chunks || !info.dtype) return std::nullopt;
  Hdf5ChunkReader r;
  r.dtype_ = *info.dtype;
  r.chunks_ = *info.chunks;
  for (const auto& f : info.filters) {
    const int id = f.value("id", -1);
    if (id == H5Z_FILTER_DEFLATE) {
      r.filters_.push_back({.deflate = true});
    } else if (id == H5Z_FILTER_SHUFFLE) {
      r.filters_.push_back({.deflate = false});
    } else {
      return std::nullopt;
    }
  }
  const bool native_big = std::endian::native == std::endian::big;
  r.swap_ = ByteSize(r.dtype_) > 1 && !info.byte_order.empty() &&
            (info.byte_order == "big") != native_big;
  r.inflate_ = MakeBytesCodec("zlib", {{"level", 1}});  // the level is for encoding only
  return r;
}

std::optional<Array> Hdf5ChunkReader::Read(hid_t dataset, const Shape& index,
                                           const std::string& where) const {
  std::vector<hsize_t> offset(index.size());
  for (size_t i = 0; i < index.size(); ++i) {
    offset[i] = static_cast<hsize_t>(index[i] * chunks_[i]);
  }
  const size_t element = ByteSize(dtype_);
  const size_t want = static_cast<size_t>(NumElements(chunks_)) * element;
  auto fail = [&](const std::string& what) {
    return DataLoss(where + ": chunk " + ShapeToString(index) + ": " + what);
  };
  Bytes stored;
  uint32_t skipped = 0;  // bit i: filter i was not applied to this chunk
  {
    auto lock = LockHdf5();
    unsigned mask = 0;
    haddr_t address = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(dataset, offset.data(), &mask, &address, &size) < 0) {
      throw fail("cannot find it (" + Hdf5ErrorText() + ")");
    }
    if (address == HADDR_UNDEF || size == 0) return std::nullopt;  // never written
    // A stored chunk is at most its decoded size plus deflate's worst-case growth.
    if (size > want + want / 1000 + 1024) {
      throw fail(std::to_string(size) + " stored bytes for a chunk of " + std::to_string(want));
    }
    stored.resize(size);
    if (H5Dread_chunk(dataset, H5P_DEFAULT, offset.data(), &skipped, stored.data()) < 0) {
      throw fail("cannot read it (" + Hdf5ErrorText() + ")");
    }
  }
  Bytes data = std::move(stored);
  ChunkSpec spec;  // bytes: inflate needs only the decoded size
  spec.shape = {static_cast<Index>(want)};
  for (size_t i = filters_.size(); i-- > 0;) {
    if (skipped & (1u << i)) continue;
    if (filters_[i].deflate) {
      try {
        data = inflate_->Decode(data, want, spec);
      } catch (const Error& e) {
        throw fail(std::string("deflate: ") + e.what());
      }
    } else if (element > 1) {
      if (data.size() != want) throw fail("shuffled bytes of the wrong size");
      data = Unshuffle(data, element);
    }
  }
  if (data.size() != want) {
    throw fail("decodes to " + std::to_string(data.size()) + " bytes, not " + std::to_string(want));
  }
  if (swap_) SwapBytes(data, element);
  return Array::FromBytes(dtype_, chunks_, std::move(data));
}

}  // namespace volbatch
