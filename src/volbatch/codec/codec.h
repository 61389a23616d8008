// The codec model of Zarr v3, used by every format: a chunk goes through array->array codecs
// (transpose), one array->bytes codec (bytes with endianness, the N5 block header, sharding)
// and bytes->bytes codecs (gzip, zstd, blosc, crc32c, ...). N5 compressions and Zarr v2
// compressors are translated into these by their format drivers.
#pragma once

#include <cstddef>
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

}  // namespace volbatch
