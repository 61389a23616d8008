// Format drivers: what one stored array looks like in N5, Zarr v2 or Zarr v3. A driver maps a
// storage unit (a chunk, or a shard for sharded Zarr v3) to its key and to and from bytes;
// Dataset does the region arithmetic, threading and read-modify-write once for all formats.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "volbatch/codec/codec.h"
#include "volbatch/core/array.h"
#include "volbatch/kvstore/kvstore.h"

namespace volbatch {

struct ArrayLayout {
  Shape shape;
  DataType dtype = DataType::kUint8;
  Shape chunks;        // the read granularity (inner chunks when sharded)
  Shape write_chunks;  // the storage unit: == chunks, or the shard shape
  Bytes fill_value;    // one element, native endianness
};

// What `volbatch create`, `import` and `copy` ask of a new array.
struct CreateOptions {
  std::string format;  // "n5", "zarr2", "zarr3"; empty: from the path (.n5 -> n5, else zarr3)
  Shape shape;
  Shape chunks;
  DataType dtype = DataType::kUint8;
  // Zarr v3 bytes->bytes codec objects (ParseCodecSpec output); each format translates.
  nlohmann::json codecs = nlohmann::json::array();
  std::optional<Shape> shards;                 // Zarr v3 only
  nlohmann::json fill_value = nullptr;         // null: 0 (NaN allowed for floats: "NaN")
  std::string dimension_separator = "/";       // Zarr v2: "." or "/"
  std::string order = "C";                     // Zarr v2: "C" or "F"
  std::string chunk_key_encoding = "default";  // Zarr v3: "default" or "v2"
  std::string endian = "little";               // Zarr v3 bytes / Zarr v2 dtype
  nlohmann::json attributes = nlohmann::json::object();
  // One name per axis (empty: none): Zarr v3's "dimension_names", Zarr v2's "_ARRAY_DIMENSIONS"
  // attribute (xarray's convention); N5 has no place for them.
  std::vector<std::string> dimension_names;
  bool overwrite = false;
};

// A unit's stored bytes in order: one piece, or (a unit stored as its elements, uncompressed)
// the runs of its elements where they lie in the array being written, which the store writes
// without gathering them into one buffer first.
using UnitBytes = std::vector<ByteView>;

class FormatDriver {
 public:
  virtual ~FormatDriver() = default;
  virtual std::string format_name() const = 0;  // "n5", "zarr2", "zarr3"
  virtual const ArrayLayout& layout() const = 0;
  // Key of a storage unit, relative to the array's directory.
  virtual std::string UnitKey(const Shape& unit_index) const = 0;
  // Decodes a unit to an array of write_chunks shape (outside the volume: fill value).
  // Errors are DataLoss/InvalidArgument; Dataset adds the key.
  virtual Array DecodeUnit(ByteView bytes, const Shape& unit_index) const = 0;
  // The same, from bytes the caller gives up (an uncompressed unit can keep them: no copy).
  virtual Array DecodeOwnedUnit(Bytes&& bytes, const Shape& unit_index) const {
    return DecodeUnit(bytes, unit_index);
  }
  // True if DecodeUnitRegion decodes part of a unit for less than all of it (Zarr chunks whose
  // one compressor is blosc: only the blocks that hold the part).
  virtual bool DecodesUnitRegions() const { return false; }
  // `local` of the unit in `bytes`, decoding less than the whole unit; nullopt where the codecs
  // cannot (the caller decodes it all). Errors like DecodeUnit.
  virtual std::optional<Array> DecodeUnitRegion(ByteView bytes, const Shape& unit_index,
                                                const Box& local) const {
    (void)bytes, (void)unit_index, (void)local;
    return std::nullopt;
  }
  // Encodes a unit given as an array of write_chunks shape. Returns nullopt when the unit
  // should not exist (all fill value), so the caller erases it.
  virtual std::optional<Bytes> EncodeUnit(const Array& unit, const Shape& unit_index) const = 0;
  // True if every unit is stored as its elements and nothing else: C order, native byte order,
  // no codec, all write_chunks of them even at the array's edge. The default ReadUnitInto then
  // has the store read the part it needs straight into place (KvStore::GetInto).
  virtual bool StoresUnitsAsElements() const { return false; }
  // Reads `local` (unit-local coordinates) of a unit; nullopt if the unit is absent. The
  // default reads and decodes the whole unit; sharded arrays read only the inner chunks needed.
  virtual std::optional<Array> ReadUnitRegion(const KvStore& kv, const Shape& unit_index,
                                              const Box& local) const;
  // Reads `local` of a unit straight into `out` at `out_origin`; false (and `out` untouched)
  // if the unit is absent. The default has the store read a unit stored as its elements into
  // place, else copies what ReadUnitRegion returns; sharded arrays decode inner chunks into
  // `out` without a shard-sized buffer.
  virtual bool ReadUnitInto(const KvStore& kv, const Shape& unit_index, const Box& local,
                            Array& out, const Shape& out_origin) const;
  // Encodes the whole unit `unit_index` whose elements are src[origin : origin + write_chunks]
  // (it must lie inside `src`); nullopt like EncodeUnit. The default copies the unit out of
  // `src`; sharded arrays slice their inner chunks straight from it.
  virtual std::optional<Bytes> EncodeUnitFrom(const Array& src, const Shape& origin,
                                              const Shape& unit_index) const;
  // The same, for a caller that stores the bytes at once: they may be left in `scratch`,
  // reusing its memory, or be views of `src` itself (a unit stored as its elements: the runs
  // where they lie there), so the views are valid while both are and `scratch` is not
  // changed. The default keeps EncodeUnitFrom's result in `scratch`; formats whose units can
  // be their elements as they are (Zarr v2 and unsharded v3 with no filter, transpose or byte
  // swap) take them from `src` with at most one copy (none when uncompressed).
  virtual std::optional<UnitBytes> EncodeUnitView(const Array& src, const Shape& origin,
                                                  const Shape& unit_index, Bytes& scratch) const;
  // The array's metadata document as stored (for `info --json`).
  virtual nlohmann::json Metadata() const = 0;
  // One line describing the codecs, e.g. "bytes(little) | zstd(level=3)".
  virtual std::string CodecSummary() const = 0;
  virtual nlohmann::json Attributes() const = 0;
  // One-line remarks for `volbatch info` about how this array's data is read (e.g. a quirk of
  // the writer found in its first chunk); may read a chunk from `kv`.
  virtual std::vector<std::string> Notes(const KvStore& kv) const {
    (void)kv;
    return {};
  }
  // True for formats volbatch reads but does not write (HDF5): Dataset refuses writes at once.
  virtual bool read_only() const { return false; }
  // Bytes the array occupies in its container, for formats whose storage is not one file per
  // unit (HDF5); nullopt: count the files under the array's directory.
  virtual std::optional<int64_t> StoredBytes() const { return std::nullopt; }
};

// A whole unit of `l` whose stream is its elements as they are (C order, host byte order),
// taken from src[origin : origin + write_chunks] and passed through the bytes->bytes
// `codecs`; for EncodeUnitView. Uncompressed units of 1 MiB or more are the runs where they
// lie in `src` (no copy); others are gathered into `scratch` once, or viewed in `src` where
// they lie contiguous there. nullopt when `drop_fill_units` and every element is the fill
// value.
std::optional<UnitBytes> EncodeStoredElements(
    const Array& src, const Shape& origin, const ArrayLayout& l,
    const std::vector<std::shared_ptr<const BytesCodec>>& codecs, const ChunkSpec& spec,
    bool drop_fill_units, Bytes& scratch);

// A format, as the registry knows it. Adding a format is one file and one registration line.
struct Format {
  std::string name;
  // True if `kv` (the array's directory) holds an array of this format.
  std::function<bool(const KvStore& kv)> probe;
  std::function<std::shared_ptr<FormatDriver>(std::shared_ptr<KvStore> kv, const std::string& path)>
      open;
  // Writes the array metadata (parents/groups are the format's job too, via `root_kv`, the
  // container root's store, and `key_in_root`, the array's path inside it).
  std::function<std::shared_ptr<FormatDriver>(
      std::shared_ptr<KvStore> kv, std::shared_ptr<KvStore> root_kv, const std::string& key_in_root,
      const CreateOptions& options)>
      create;
};

void RegisterFormat(Format format);
// nullptr if no format has this name.
const Format* FindFormat(const std::string& name);
// The first registered format whose probe matches, or nullptr.
const Format* DetectFormat(const KvStore& kv);
std::vector<std::string> FormatNames();

}  // namespace volbatch
