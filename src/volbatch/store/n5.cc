// The N5 format. A dataset directory holds attributes.json ({"dimensions", "blockSize",
// "dataType", "compression"} plus user attributes) and one file per block at "<x>/<y>/<z>"
// (grid indices, x first). A block is the header of n5_block.h, uncompressed, followed by the
// compressed big-endian elements of the block's own dims, which N5 truncates at the volume's
// edge. Everything x-first is reversed here, so the rest of volbatch sees C order.
// Cost per block: one byte swap (multi-byte types) and one copy into the unit besides the
// codec; edge blocks are written truncated, so they store no padding.
#include <algorithm>
#include <bit>
#include <cstring>

#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/store/driver.h"
#include "volbatch/store/formats.h"
#include "volbatch/store/n5_block.h"
#include "volbatch/store/n5_compression.h"

namespace volbatch {
namespace {

using nlohmann::json;

constexpr const char* kAttributes = "attributes.json";
constexpr const char* kVersion = "4.0.0";
// Keys of attributes.json that are the dataset's structure rather than user attributes.
constexpr const char* kReserved[] = {"dimensions",  "blockSize",       "dataType",
                                     "compression", "compressionType", "n5"};

bool IsN5DataType(DataType t) { return t != DataType::kBool && t != DataType::kFloat16; }

Bytes ToBytes(const std::string& s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::optional<json> ReadJson(const KvStore& kv, const std::string& key) {
  auto bytes = kv.Get(key);
  if (!bytes) return std::nullopt;
  try {
    return json::parse(reinterpret_cast<const char*>(bytes->data()),
                       reinterpret_cast<const char*>(bytes->data() + bytes->size()));
  } catch (const json::exception& e) {
    throw InvalidArgument(kv.Describe(key) + ": invalid JSON: " + e.what());
  }
}

void WriteJson(KvStore& kv, const std::string& key, const json& j) {
  kv.Set(key, ToBytes(j.dump(2) + "\n"));
}

// A list of `rank` non-negative (or positive) integers, x first, returned in C order.
Shape ReversedShape(const json& attrs, const char* key, bool positive, const std::string& what) {
  if (!attrs.contains(key)) throw InvalidArgument(what + ": \"" + key + "\" is missing");
  const json& v = attrs[key];
  const std::string field = what + ": \"" + key + "\"";
  if (!v.is_array()) throw InvalidArgument(field + " must be a list of integers, got " + v.dump());
  CheckRank(v.size(), field.c_str());
  Shape out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const json& e = v[i];
    if (!e.is_number_integer() || (e.is_number_unsigned() && e.get<uint64_t>() > INT64_MAX) ||
        e.get<int64_t>() < (positive ? 1 : 0)) {
      throw InvalidArgument(field + "[" + std::to_string(i) + "] must be a " +
                            (positive ? "positive" : "non-negative") + " integer, got " + e.dump());
    }
    out[v.size() - 1 - i] = e.get<int64_t>();
  }
  return out;
}

json ShapeToN5(const Shape& s) { return json(Shape(s.rbegin(), s.rend())); }

std::string CodecDescription(const BytesCodec& c) {
  const json j = c.ToJson();
  std::string s = j.value("name", "?");
  if (j.contains("configuration") && j["configuration"].is_object() &&
      !j["configuration"].empty()) {
    std::string args;
    for (const auto& [k, v] : j["configuration"].items()) {
      args +=
          (args.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    s += "(" + args + ")";
  }
  return s;
}

class N5Driver : public FormatDriver {
 public:
  // `what` names the attributes file in messages.
  N5Driver(json attrs, const std::string& what) : attrs_(std::move(attrs)) {
    if (!attrs_.is_object()) throw InvalidArgument(what + ": must be a JSON object");
    layout_.shape = ReversedShape(attrs_, "dimensions", false, what);
    layout_.chunks = ReversedShape(attrs_, "blockSize", true, what);
    if (layout_.chunks.size() != layout_.shape.size()) {
      throw InvalidArgument(what + ": \"blockSize\" has " + std::to_string(layout_.chunks.size()) +
                            " entries, \"dimensions\" has " + std::to_string(layout_.shape.size()));
    }
    for (Index c : layout_.chunks) {
      if (c > INT32_MAX) {
        throw InvalidArgument(what + ": \"blockSize\" entry " + std::to_string(c) +
                              " exceeds N5's limit of 2^31 - 1");
      }
    }
    if (!attrs_.contains("dataType")) throw InvalidArgument(what + ": \"dataType\" is missing");
    if (!attrs_["dataType"].is_string()) {
      throw InvalidArgument(what + ": \"dataType\" must be a string, got " +
                            attrs_["dataType"].dump());
    }
    const std::string dt = attrs_["dataType"];
    layout_.dtype = ParseDataType(dt, what + ": \"dataType\"");
    if (!IsN5DataType(layout_.dtype)) {
      throw InvalidArgument(what + ": \"dataType\" \"" + dt +
                            "\" is not an N5 type (uint8..uint64, int8..int64, float32, float64)");
    }
    const Index block_bytes =
        CheckedMul(NumElements(layout_.chunks, "blockSize"),
                   static_cast<int64_t>(ByteSize(layout_.dtype)), what + ": \"blockSize\"");
    if (block_bytes > kMaxChunkBytes) {
      throw InvalidArgument(what + ": \"blockSize\" " + ShapeToString(layout_.chunks) +
                            " makes blocks of " + std::to_string(block_bytes) +
                            " bytes, more than the limit of " + std::to_string(kMaxChunkBytes));
    }
    NumElements(layout_.shape, "dimensions");
    layout_.write_chunks = layout_.chunks;
    layout_.fill_value = Bytes(ByteSize(layout_.dtype), std::byte{0});
    compression_ = ParseN5Compression(attrs_, layout_.dtype, what);
    codec_ = MakeN5Codec(compression_, what + ": compression");
  }

  std::string format_name() const override { return "n5"; }
  const ArrayLayout& layout() const override { return layout_; }

  std::string UnitKey(const Shape& unit_index) const override {
    std::string key;
    for (size_t i = unit_index.size(); i-- > 0;) {
      key += std::to_string(unit_index[i]);
      if (i > 0) key += '/';
    }
    return key;
  }

  Array DecodeUnit(ByteView bytes, const Shape& unit_index) const override {
    const size_t rank = layout_.shape.size();
    const N5BlockHeader h = ParseN5BlockHeader(bytes, rank);
    // The header's dims decide the allocation, so they are checked first: a block may be full
    // size or truncated at the volume's edge, never larger than the block size.
    for (size_t i = 0; i < rank; ++i) {
      if (h.dims[i] > layout_.chunks[i]) {
        throw DataLoss("N5 block header declares dims " + ShapeToN5(h.dims).dump() +
                       " (x first), larger than the blockSize " + ShapeToN5(layout_.chunks).dump());
      }
    }
    const Index n = NumElements(h.dims, "N5 block dims");
    if (h.num_elements && *h.num_elements != static_cast<uint64_t>(n)) {
      throw DataLoss("N5 varlength block declares " + std::to_string(*h.num_elements) +
                     " elements, its dims " + ShapeToN5(h.dims).dump() + " hold " +
                     std::to_string(n));
    }
    const size_t es = ByteSize(layout_.dtype);
    const size_t nbytes = static_cast<size_t>(n) * es;
    ByteView payload = bytes.subspan(h.size);
    Bytes data;
    if (codec_) {
      ChunkSpec spec{layout_.dtype, h.dims, layout_.fill_value};
      data = codec_->Decode(payload, nbytes, spec);
    } else {
      data = CopyBytes(payload);
    }
    if (data.size() != nbytes) {
      throw DataLoss("N5 block holds " + std::to_string(data.size()) + " bytes of data, its dims " +
                     ShapeToN5(h.dims).dump() + " of " + std::string(DataTypeName(layout_.dtype)) +
                     " need " + std::to_string(nbytes));
    }
    if constexpr (std::endian::native == std::endian::little) SwapBytes(data, es);
    const Array block = Array::FromBytes(layout_.dtype, h.dims, std::move(data));
    Array unit = Array::Filled(layout_.dtype, layout_.chunks, layout_.fill_value);
    // Elements past the volume's edge (full-size edge blocks) are not part of the array.
    const Shape valid = ValidExtent(unit_index);
    Shape extent(rank);
    for (size_t i = 0; i < rank; ++i) extent[i] = std::min(h.dims[i], valid[i]);
    CopyRegion(block, Shape(rank, 0), unit, Shape(rank, 0), extent);
    return unit;
  }

  std::optional<Bytes> EncodeUnit(const Array& unit, const Shape& unit_index) const override {
    if (unit.shape() != layout_.chunks || unit.dtype() != layout_.dtype) {
      throw Internal("N5 EncodeUnit: unit of shape " + ShapeToString(unit.shape()) + ", expected " +
                     ShapeToString(layout_.chunks));
    }
    if (unit.AllEqual(layout_.fill_value)) return std::nullopt;
    const size_t rank = layout_.shape.size();
    const Shape valid = ValidExtent(unit_index);
    Bytes data;
    if (valid == layout_.chunks) {
      data = CopyBytes(unit.bytes());
    } else {
      data = unit.Slice(Box(Shape(rank, 0), valid)).release();
    }
    const size_t es = ByteSize(layout_.dtype);
    if constexpr (std::endian::native == std::endian::little) SwapBytes(data, es);
    if (codec_) {
      ChunkSpec spec{layout_.dtype, valid, layout_.fill_value};
      data = codec_->Encode(data, spec);
    }
    Bytes out = EncodeN5BlockHeader(valid);
    out.reserve(out.size() + data.size());
    AppendBytes(out, data);
    return out;
  }

  json Metadata() const override { return attrs_; }

  std::string CodecSummary() const override {
    return "n5 block header | bytes(big)" + (codec_ ? " | " + CodecDescription(*codec_) : "");
  }

  json Attributes() const override {
    json user = attrs_;
    for (const char* k : kReserved) user.erase(k);
    return user;
  }

 private:
  // The block's extent inside the volume (what N5 stores for it).
  Shape ValidExtent(const Shape& unit_index) const {
    Shape v(layout_.chunks.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const Index origin = unit_index[i] * layout_.chunks[i];
      v[i] = std::max<Index>(0, std::min(layout_.chunks[i], layout_.shape[i] - origin));
    }
    return v;
  }

  json attrs_;
  ArrayLayout layout_;
  N5Compression compression_;
  std::shared_ptr<const BytesCodec> codec_;
};

// An attributes.json that describes a dataset (not just a group). One that cannot be parsed
// counts too, so that opening it reports the parse error instead of "not an array".
bool ProbeN5(const KvStore& kv) {
  std::optional<json> attrs;
  try {
    attrs = ReadJson(kv, kAttributes);
  } catch (const Error&) {
    return kv.Get(kAttributes).has_value();
  }
  if (!attrs || !attrs->is_object()) return false;
  return attrs->contains("dimensions") || attrs->contains("blockSize") ||
         attrs->contains("dataType");
}

std::shared_ptr<FormatDriver> OpenN5(std::shared_ptr<KvStore> kv, const std::string& path) {
  auto attrs = ReadJson(*kv, kAttributes);
  if (!attrs) throw NotFound(path + ": no N5 attributes.json");
  return std::make_shared<N5Driver>(std::move(*attrs), kv->Describe(kAttributes));
}

// The container root says it is N5 ({"n5": version}); groups on the way to the dataset get an
// attributes.json so N5 readers can walk the hierarchy. Existing group attributes are kept.
void EnsureN5Parents(KvStore& root, const std::string& key_in_root) {
  auto root_attrs = ReadJson(root, kAttributes);
  if (!root_attrs) {
    WriteJson(root, kAttributes, {{"n5", kVersion}});
  } else if (!root_attrs->is_object()) {
    throw InvalidArgument(root.Describe(kAttributes) + ": must be a JSON object");
  } else if (!root_attrs->contains("n5")) {
    (*root_attrs)["n5"] = kVersion;
    WriteJson(root, kAttributes, *root_attrs);
  }
  for (size_t slash = key_in_root.find('/'); slash != std::string::npos;
       slash = key_in_root.find('/', slash + 1)) {
    const std::string key = key_in_root.substr(0, slash) + "/" + kAttributes;
    if (!root.Get(key)) WriteJson(root, key, json::object());
  }
}

std::shared_ptr<FormatDriver> CreateN5(std::shared_ptr<KvStore> kv,
                                       std::shared_ptr<KvStore> root_kv,
                                       const std::string& key_in_root, const CreateOptions& o) {
  const std::string what = kv->Describe(kAttributes);
  if (!IsN5DataType(o.dtype)) {
    throw InvalidArgument("N5 has no data type " + std::string(DataTypeName(o.dtype)) +
                          " (uint8..uint64, int8..int64, float32, float64)");
  }
  if (o.shards) throw InvalidArgument("shards are a Zarr v3 feature; N5 has no sharding");
  if (!o.fill_value.is_null() && !(o.fill_value.is_number() && o.fill_value == 0)) {
    throw InvalidArgument("N5 has no fill value (missing blocks read as 0); fill_value " +
                          o.fill_value.dump() + " cannot be stored");
  }
  if (!o.attributes.is_object()) {
    throw InvalidArgument("attributes must be a JSON object, got " + o.attributes.dump());
  }
  json attrs = o.attributes;
  for (const char* k : kReserved) {
    if (attrs.contains(k)) {
      throw InvalidArgument("attribute \"" + std::string(k) + "\" is reserved by N5");
    }
  }
  attrs["dimensions"] = ShapeToN5(o.shape);
  attrs["blockSize"] = ShapeToN5(o.chunks);
  attrs["dataType"] = DataTypeName(o.dtype);
  attrs["compression"] = N5CompressionFromCodecs(o.codecs);
  if (key_in_root.empty()) attrs["n5"] = kVersion;  // the dataset is the container root
  // Validates everything (block size limits, codec parameters) before anything is written.
  auto driver = std::make_shared<N5Driver>(attrs, what);
  if (!key_in_root.empty()) EnsureN5Parents(*root_kv, key_in_root);
  WriteJson(*kv, kAttributes, attrs);
  return driver;
}

}  // namespace

void RegisterN5Format() { RegisterFormat(Format{"n5", ProbeN5, OpenN5, CreateN5}); }

}  // namespace volbatch
