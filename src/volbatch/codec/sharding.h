// The Zarr v3 "sharding_indexed" array->bytes codec: one stored value (a shard) holds many inner
// chunks, each encoded with its own codec chain, plus an index locating them.
//
// Byte layout of a shard of n inner chunks (n = product of shard_shape / chunk_shape):
//   index_location "end":   [inner chunk bytes ...][index]
//   index_location "start": [index][inner chunk bytes ...]
// The index is a uint64 array of shape (chunks per shard..., 2) holding (offset, nbytes) per
// inner chunk in C order of the inner grid, encoded with "index_codecs" (normally bytes little
// + crc32c: 16 n + 4 bytes). Offsets count from the start of the shard. An inner chunk equal to
// the fill value everywhere is not stored: offset = nbytes = 2^64 - 1.
//
// Cost: encoding and decoding a whole shard touch every inner chunk once (in parallel; on
// encode each is gathered into a reused per-thread buffer, and the encoded chunks and the
// index are copied once into the shard's bytes); a partial read needs the index (one ranged
// read of a known size) and then only the inner chunks it overlaps, which is what the Zarr v3
// driver does through the accessors below. An uncompressed inner chunk is copied from the
// shard's bytes into the destination (no decode), and a blosc one partly inside a region
// decodes only the blocks holding that part.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "volbatch/codec/codec.h"

namespace volbatch {

inline constexpr uint64_t kShardEntryEmpty = ~uint64_t{0};

struct ShardIndexEntry {
  uint64_t offset = kShardEntryEmpty;
  uint64_t nbytes = kShardEntryEmpty;
  bool empty() const { return offset == kShardEntryEmpty && nbytes == kShardEntryEmpty; }
};

class ShardingCodec : public ArrayToBytesCodec {
 public:
  ShardingCodec(Shape inner_chunk_shape, CodecChain inner, CodecChain index, bool index_at_end);

  nlohmann::json ToJson() const override;
  Bytes Encode(const Array& shard, const ChunkSpec& spec) const override;
  // Encodes the shard of spec.shape found at `origin` in the larger array `src`, slicing its
  // inner chunks straight out of `src` (no shard-sized copy); nullopt when every inner chunk
  // is the fill value, so the shard need not be stored.
  std::optional<Bytes> EncodeRegion(const Array& src, const Shape& origin,
                                    const ChunkSpec& spec) const;
  Array Decode(ByteView encoded, const ChunkSpec& spec) const override;
  size_t EncodedSizeBound(const ChunkSpec& spec) const override;

  const Shape& inner_chunk_shape() const { return inner_shape_; }
  const CodecChain& inner_codecs() const { return inner_; }
  const CodecChain& index_codecs() const { return index_; }
  bool index_at_end() const { return index_at_end_; }

  // Inner chunks per shard along each axis. InvalidArgument unless the ranks agree and the
  // inner chunk shape divides `shard_shape`.
  Shape InnerGrid(const Shape& shard_shape) const;
  // Size of the encoded index in a shard of `shard_shape`. InvalidArgument if index_codecs do
  // not give a fixed size (e.g. a compressor).
  size_t IndexSize(const Shape& shard_shape) const;
  // Decodes an index of IndexSize(shard_shape) bytes into one entry per inner chunk (C order).
  // Entries are checked: an entry is empty, or its offset + nbytes does not overflow and its
  // bytes do not overlap the index nor (when `shard_size` is known) pass the shard's end.
  // Violations are DataLoss naming the inner chunk.
  std::vector<ShardIndexEntry> DecodeIndex(ByteView index, const Shape& shard_shape,
                                           std::optional<uint64_t> shard_size) const;
  ChunkSpec InnerSpec(const ChunkSpec& shard_spec) const;
  // Decodes one inner chunk (number `which` in C order of `grid`); errors name the chunk.
  Array DecodeInnerChunk(ByteView encoded, const ChunkSpec& inner_spec, const Shape& grid,
                         size_t which) const;
  // How DecodeInnerRegionInto got its part (tests count them).
  enum class InnerDecode { kAsIs, kRegion, kWhole };
  // Writes `region` (inner-chunk coordinates) of inner chunk `which` into `out` at `dst`, doing
  // the least work its codecs allow: an inner chunk stored as its elements (no compressor, C
  // order, host endianness) is copied straight from `encoded`, with no decode and no buffer; a
  // part of one whose chain decodes regions (blosc) decodes only the axis-0 slab holding it;
  // anything else decodes whole and copies the region. Errors name the inner chunk.
  InnerDecode DecodeInnerRegionInto(ByteView encoded, const ChunkSpec& inner_spec,
                                    const Shape& grid, size_t which, const Box& region, Array& out,
                                    const Shape& dst) const;

 private:
  // `*stored`: how many inner chunks the shard holds.
  Bytes EncodeShard(const Array& src, const Shape& shard_origin, const ChunkSpec& spec,
                    size_t* stored) const;
  // The inner chunk at `origin` of `src` encoded; nullopt when it is all fill value (checked
  // as it is gathered into a reused per-thread buffer).
  std::optional<Bytes> EncodeInnerChunk(const Array& src, const Shape& origin,
                                        const ChunkSpec& inner) const;

  Shape inner_shape_;
  CodecChain inner_;
  CodecChain index_;
  bool index_at_end_;
  mutable std::mutex mu_;
  mutable std::map<Shape, size_t> index_size_cache_;
};

// "[1, 0, 2]": the grid coordinates of inner chunk number `which` (C order), for messages.
std::string InnerChunkName(const Shape& grid, size_t which);

void RegisterShardingCodec();

}  // namespace volbatch
