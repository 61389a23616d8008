// The codec model of Zarr v3, used by every format: a chunk goes through array->array codecs
// (transpose), one array->bytes codec (bytes with endianness, the N5 block header, sharding)
// and bytes->bytes codecs (gzip, zstd, blosc, crc32c, ...). N5 compressions and Zarr v2
// compressors are translated into these by their format drivers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "volbatch/core/array.h"

namespace volbatch {

using ByteView = std::span<const std::byte>;

// What a chunk looks like decoded: the codecs need the dtype (blosc typesize, endianness), the
// shape (transpose, decoded size) and the fill value (sharding's empty inner chunks).
struct ChunkSpec {
  DataType dtype = DataType::kUint8;
  Shape shape;
  Bytes fill_value;  // one element, native endianness

  size_t num_bytes() const;  // checked
};

class BytesCodec {
 public:
  virtual ~BytesCodec() = default;
  // Zarr v3 form: {"name": ..., "configuration": {...}}.
  virtual nlohmann::json ToJson() const = 0;
  virtual Bytes Encode(ByteView decoded, const ChunkSpec& spec) const = 0;
  // `max_decoded` bounds the output: a stream that would decode to more is DataLoss, so a
  // corrupt or hostile chunk cannot make us allocate more than the chunk can hold.
  virtual Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec& spec) const = 0;
  // The most bytes Encode can make of `decoded_size` bytes (saturating at SIZE_MAX): a chain
  // decodes the streams between its bytes codecs with these as their bounds. The default (an
  // eighth plus 4 KiB) covers every compressor's worst case here; codecs that can expand more
  // (n5_lz4 with small blocks: 21 bytes per block) override it.
  virtual size_t MaxEncodedSize(size_t decoded_size) const {
    const size_t slack = decoded_size / 8 + 4096;
    return decoded_size > SIZE_MAX - slack ? SIZE_MAX : decoded_size + slack;
  }
  // True if DecodeRange can return part of the decoded stream for less than a whole Decode.
  virtual bool DecodesRanges() const { return false; }
  // Bytes [offset, offset + length) of what Decode would return, decoding only what holds them
  // (blosc: the blocks they lie in): a training window reads a fraction of each chunk it
  // touches. nullopt when this codec or this stream cannot (the caller decodes it all). The
  // range must lie inside the decoded stream, which is checked against `max_decoded` as Decode.
  virtual std::optional<Bytes> DecodeRange(ByteView encoded, size_t offset, size_t length,
                                           size_t max_decoded, const ChunkSpec& spec) const {
    (void)encoded, (void)offset, (void)length, (void)max_decoded, (void)spec;
    return std::nullopt;
  }
};

class ArrayCodec {
 public:
  virtual ~ArrayCodec() = default;
  virtual nlohmann::json ToJson() const = 0;
  virtual ChunkSpec EncodedSpec(const ChunkSpec& decoded) const = 0;
  virtual Array Encode(const Array& decoded) const = 0;
  virtual Array Decode(const Array& encoded, const ChunkSpec& decoded_spec) const = 0;
};

class ArrayToBytesCodec {
 public:
  virtual ~ArrayToBytesCodec() = default;
  virtual nlohmann::json ToJson() const = 0;
  virtual Bytes Encode(const Array& decoded, const ChunkSpec& spec) const = 0;
  // Decodes to an array of spec.shape; a truncated or oversized input is DataLoss.
  virtual Array Decode(ByteView encoded, const ChunkSpec& spec) const = 0;
  // When the encoding of `decoded` is its own bytes (bytes, little endian, on a little-endian
  // host), a view of them, so a chain can hand them to the next codec without a copy.
  virtual std::optional<ByteView> EncodedView(const Array& decoded, const ChunkSpec& spec) const {
    (void)decoded;
    (void)spec;
    return std::nullopt;
  }
  // True if Decode is the elements as they are (C order, host endianness): part of the encoded
  // bytes is then part of the array, which is what lets a chain decode a region alone.
  virtual bool DecodesAsIs(const ChunkSpec& spec) const {
    (void)spec;
    return false;
  }
  // Decode from bytes the caller gives up, which a codec may adopt instead of copying.
  virtual Array DecodeOwned(Bytes&& encoded, const ChunkSpec& spec) const {
    return Decode(encoded, spec);
  }
  // Upper bound of Encode's output size for a chunk of `spec` (before bytes->bytes codecs).
  virtual size_t EncodedSizeBound(const ChunkSpec& spec) const = 0;
};

// An ordered chain: array->array*, array->bytes, bytes->bytes*.
class CodecChain {
 public:
  CodecChain() = default;
  CodecChain(std::vector<std::shared_ptr<const ArrayCodec>> array_codecs,
             std::shared_ptr<const ArrayToBytesCodec> array_to_bytes,
             std::vector<std::shared_ptr<const BytesCodec>> bytes_codecs);

  // Parses a Zarr v3 "codecs" list; `what` names the metadata for error messages.
  static CodecChain FromJson(const nlohmann::json& codecs, const std::string& what);
  nlohmann::json ToJson() const;

  Bytes Encode(const Array& chunk, const ChunkSpec& spec) const;
  Array Decode(ByteView encoded, const ChunkSpec& spec) const;
  // The same, from bytes the caller gives up (an uncompressed chunk keeps them: no copy).
  Array DecodeOwned(Bytes&& encoded, const ChunkSpec& spec) const;
  // True if DecodeRegion can decode a region for less than the whole chunk: no array->array
  // codec, elements stored as they are, and one compressor that decodes ranges (blosc).
  bool DecodesRegions(const ChunkSpec& spec) const;
  // `region` (chunk coordinates) of the chunk, decoding only the slab of axis-0 slices that
  // holds it; nullopt when DecodesRegions is false or the stream cannot (e.g. a blosc buffer
  // stored uncompressed is as cheap whole), and the caller decodes it all.
  std::optional<Array> DecodeRegion(ByteView encoded, const ChunkSpec& spec,
                                    const Box& region) const;

  const std::shared_ptr<const ArrayToBytesCodec>& array_to_bytes() const { return array_to_bytes_; }
  const std::vector<std::shared_ptr<const BytesCodec>>& bytes_codecs() const {
    return bytes_codecs_;
  }
  const std::vector<std::shared_ptr<const ArrayCodec>>& array_codecs() const {
    return array_codecs_;
  }

 private:
  std::vector<std::shared_ptr<const ArrayCodec>> array_codecs_;
  std::shared_ptr<const ArrayToBytesCodec> array_to_bytes_;
  std::vector<std::shared_ptr<const BytesCodec>> bytes_codecs_;
};

// `region` of a chunk whose elements `codec` compressed as they are (C order, host
// endianness), decoding only the axis-0 slices that hold it (BytesCodec::DecodeRange); nullopt
// when the codec cannot. For format drivers whose chunks are such a stream (Zarr v2).
std::optional<Array> DecodeRegionOfElements(const BytesCodec& codec, ByteView encoded,
                                            const ChunkSpec& spec, const Box& region);

}  // namespace volbatch
