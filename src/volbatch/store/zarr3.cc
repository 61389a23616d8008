// Zarr v3 arrays. Byte layout inside the array's directory:
//   zarr.json        the array metadata (JSON: shape, data_type, chunk_grid, chunk_key_encoding,
//                    fill_value, codecs, attributes, dimension_names)
//   c/0/1/2          chunk (0, 1, 2) with the "default" chunk key encoding ("/" or ".")
//   0.1.2            the same chunk with the "v2" chunk key encoding
// A chunk is its codec chain's output (bytes with the metadata's endianness, then any
// bytes->bytes codecs); edge chunks are stored full size, their outside part is fill value,
// and chunks equal to the fill value are not stored. With the sharding_indexed codec every key
// holds a shard of inner chunks (see codec/sharding.h). Parent groups get a group zarr.json.
//
// Cost: opening reads one small document; reading a region of a sharded array reads the shard
// index with one ranged read and then one ranged read per run of adjacent needed inner chunks,
// and decodes only the inner chunks the region touches, each no more than the codec needs for
// its part (ShardingCodec::DecodeInnerRegionInto). A whole shard is one read. Writing a whole
// unit from a larger array: an unsharded chunk stored as its elements (bytes, host order, no
// transpose) is gathered once into a reused buffer, or not at all where it lies contiguous;
// a shard's inner chunks are gathered one at a time (ShardingCodec::EncodeRegion).

#include <algorithm>
#include <limits>
#include <set>

#include "volbatch/codec/registry.h"
#include "volbatch/codec/sharding.h"
#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"
#include "volbatch/store/driver.h"
#include "volbatch/store/fill_value.h"
#include "volbatch/store/formats.h"

namespace volbatch {
namespace {

constexpr char kMetadataKey[] = "zarr.json";
// Inner chunks closer than this are fetched with one ranged read (the gap is read and dropped).
constexpr uint64_t kCoalesceGap = 64 * 1024;

nlohmann::json ParseJsonDocument(ByteView bytes, const std::string& where) {
  try {
    return nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                 reinterpret_cast<const char*>(bytes.data()) + bytes.size());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(where + ": not valid JSON (" + e.what() + ")");
  }
}

// An extension point value: "name" or {"name": ..., "configuration": {...}}.
std::pair<std::string, nlohmann::json> ParseNamed(const nlohmann::json& j, const std::string& where,
                                                  const std::string& field) {
  if (j.is_string()) return {j.get<std::string>(), nlohmann::json::object()};
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    throw InvalidArgument(where + ": \"" + field +
                          "\" must be a name or an object with a string \"name\"");
  }
  nlohmann::json config = j.value("configuration", nlohmann::json::object());
  if (!config.is_object()) {
    throw InvalidArgument(where + ": \"" + field + ".configuration\" must be an object");
  }
  return {j["name"].get<std::string>(), config};
}

Shape ParseShapeField(const nlohmann::json& j, const std::string& where, const std::string& field,
                      bool positive) {
  if (!j.is_array()) throw InvalidArgument(where + ": \"" + field + "\" must be a list");
  Shape s;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < (positive ? 1 : 0)) {
      throw InvalidArgument(where + ": \"" + field + "\" must hold " +
                            (positive ? "positive" : "non-negative") + " integers, got " +
                            j.dump());
    }
    s.push_back(v.get<int64_t>());
  }
  return s;
}

// "bytes(endian=little) | zstd(level=3)"; nested codec lists (sharding) in brackets.
std::string SummarizeCodecs(const nlohmann::json& codecs) {
  std::string s;
  for (const auto& c : codecs) {
    if (!s.empty()) s += " | ";
    if (c.is_string()) {
      s += c.get<std::string>();
      continue;
    }
    s += c.value("name", "?");
    const nlohmann::json config = c.value("configuration", nlohmann::json::object());
    if (!config.is_object() || config.empty()) continue;
    std::string args;
    for (const auto& [k, v] : config.items()) {
      if (!args.empty()) args += ", ";
      args += k + "=";
      if ((k == "codecs" || k == "index_codecs") && v.is_array()) {
        args += "[" + SummarizeCodecs(v) + "]";
      } else if (v.is_string()) {
        args += v.get<std::string>();
      } else {
        args += v.dump();
      }
    }
    s += "(" + args + ")";
  }
  return s;
}

class Zarr3Driver : public FormatDriver {
 public:
  // Parses and checks an array's zarr.json; `where` names it in errors.
  Zarr3Driver(nlohmann::json metadata, const std::string& where);

  std::string format_name() const override { return "zarr3"; }
  const ArrayLayout& layout() const override { return layout_; }
  std::string UnitKey(const Shape& unit_index) const override;
  Array DecodeUnit(ByteView bytes, const Shape& unit_index) const override;
  Array DecodeOwnedUnit(Bytes&& bytes, const Shape& unit_index) const override;
  bool DecodesUnitRegions() const override {
    return !sharding_ && codecs_.DecodesRegions(unit_spec_);
  }
  std::optional<Array> DecodeUnitRegion(ByteView bytes, const Shape&,
                                        const Box& local) const override {
    if (sharding_) return std::nullopt;
    return codecs_.DecodeRegion(bytes, unit_spec_, local);
  }
  std::optional<Bytes> EncodeUnit(const Array& unit, const Shape& unit_index) const override;
  std::optional<Array> ReadUnitRegion(const KvStore& kv, const Shape& unit_index,
                                      const Box& local) const override;
  bool ReadUnitInto(const KvStore& kv, const Shape& unit_index, const Box& local, Array& out,
                    const Shape& out_origin) const override;
  std::optional<Bytes> EncodeUnitFrom(const Array& src, const Shape& origin,
                                      const Shape& unit_index) const override;
  std::optional<UnitBytes> EncodeUnitView(const Array& src, const Shape& origin,
                                          const Shape& unit_index, Bytes& scratch) const override;
  bool StoresUnitsAsElements() const override {
    return !sharding_ && StoresElementsAsTheyAre() && codecs_.bytes_codecs().empty();
  }
  nlohmann::json Metadata() const override { return metadata_; }
  std::string CodecSummary() const override { return SummarizeCodecs(codecs_.ToJson()); }
  nlohmann::json Attributes() const override { return attributes_; }

 private:
  // True if the array->bytes codec writes the elements as they are and no array codec
  // (transpose) comes before it.
  bool StoresElementsAsTheyAre() const {
    return codecs_.array_codecs().empty() && codecs_.array_to_bytes()->DecodesAsIs(unit_spec_);
  }
  // Reads `local` of the shard `key` into `out` at `out_origin` (inner chunks that are not
  // stored read as the fill value); false if the shard is absent.
  bool ReadShardInto(const KvStore& kv, const std::string& key, const Box& local, Array& out,
                     const Shape& out_origin) const;

  nlohmann::json metadata_;
  nlohmann::json attributes_ = nlohmann::json::object();
  ArrayLayout layout_;
  ChunkSpec unit_spec_;
  CodecChain codecs_;
  bool v2_keys_ = false;
  std::string separator_ = "/";
  // Set when the codec chain is sharding alone, so a shard's inner chunks can be read apart.
  std::shared_ptr<const ShardingCodec> sharding_;
};

Zarr3Driver::Zarr3Driver(nlohmann::json metadata, const std::string& where)
    : metadata_(std::move(metadata)) {
  const nlohmann::json& j = metadata_;
  if (!j.is_object()) throw InvalidArgument(where + ": must hold a JSON object");
  auto require = [&](const char* field) -> const nlohmann::json& {
    if (!j.contains(field)) throw InvalidArgument(where + ": missing field \"" + field + "\"");
    return j[field];
  };

  static const std::set<std::string> kKnown = {
      "zarr_format",         "node_type",  "shape",  "data_type",  "chunk_grid",
      "chunk_key_encoding",  "fill_value", "codecs", "attributes", "dimension_names",
      "storage_transformers"};
  for (const auto& [key, value] : j.items()) {
    if (kKnown.count(key)) continue;
    // Extensions that readers may ignore say so; anything else could change the meaning.
    const bool optional =
        value.is_object() && value.contains("must_understand") && value["must_understand"] == false;
    if (!optional) {
      throw Unsupported(where + ": unknown field \"" + key +
                        "\" (not marked \"must_understand\": false)");
    }
  }

  if (require("zarr_format") != 3) {
    throw InvalidArgument(where + ": \"zarr_format\" must be 3, got " + j["zarr_format"].dump());
  }
  const auto& node_type = require("node_type");
  if (node_type == "group") throw InvalidArgument(where + ": is a group, not an array");
  if (node_type != "array") {
    throw InvalidArgument(where + ": \"node_type\" must be \"array\", got " + node_type.dump());
  }

  layout_.shape = ParseShapeField(require("shape"), where, "shape", false);
  try {
    CheckRank(layout_.shape.size(), "shape");
    NumElements(layout_.shape, "shape");
  } catch (const Error& e) {
    throw WithContext(e, where);
  }
  const size_t rank = layout_.shape.size();

  {
    auto [name, config] = ParseNamed(require("data_type"), where, "data_type");
    layout_.dtype = ParseDataType(name, where + ": data_type");
  }

  {
    auto [name, config] = ParseNamed(require("chunk_grid"), where, "chunk_grid");
    if (name != "regular") {
      throw Unsupported(where + ": chunk_grid \"" + name +
                        "\" is not supported (only \"regular\")");
    }
    if (!config.contains("chunk_shape")) {
      throw InvalidArgument(where + ": missing field \"chunk_grid.configuration.chunk_shape\"");
    }
    layout_.write_chunks =
        ParseShapeField(config["chunk_shape"], where, "chunk_grid.configuration.chunk_shape", true);
    if (layout_.write_chunks.size() != rank) {
      throw InvalidArgument(where + ": chunk_grid chunk_shape " +
                            ShapeToString(layout_.write_chunks) + " and shape " +
                            ShapeToString(layout_.shape) + " differ in rank");
    }
    const int64_t elements = NumElements(layout_.write_chunks, "chunk_shape");
    if (elements > kMaxChunkBytes / static_cast<int64_t>(ByteSize(layout_.dtype))) {
      throw InvalidArgument(where + ": chunk_grid chunk_shape " +
                            ShapeToString(layout_.write_chunks) + " makes chunks over 16 GiB");
    }
  }

  {
    auto [name, config] = ParseNamed(require("chunk_key_encoding"), where, "chunk_key_encoding");
    if (name == "default") {
      separator_ = "/";
    } else if (name == "v2") {
      v2_keys_ = true;
      separator_ = ".";
    } else {
      throw Unsupported(where + ": chunk_key_encoding \"" + name +
                        "\" is not supported (\"default\" or \"v2\")");
    }
    if (config.contains("separator")) {
      const auto& sep = config["separator"];
      if (sep != "/" && sep != ".") {
        throw InvalidArgument(
            where + ": chunk_key_encoding separator must be \"/\" or \".\", got " + sep.dump());
      }
      separator_ = sep.get<std::string>();
    }
  }

  layout_.fill_value = ParseFillValue(require("fill_value"), layout_.dtype, where);

  if (j.contains("storage_transformers")) {
    const auto& st = j["storage_transformers"];
    if (!st.is_array()) {
      throw InvalidArgument(where + ": \"storage_transformers\" must be a list");
    }
    if (!st.empty()) {
      throw Unsupported(where + ": storage_transformers " + st.dump() + " are not supported");
    }
  }

  if (j.contains("attributes")) {
    if (!j["attributes"].is_object()) {
      throw InvalidArgument(where + ": \"attributes\" must be an object");
    }
    attributes_ = j["attributes"];
  }

  if (j.contains("dimension_names") && !j["dimension_names"].is_null()) {
    const auto& dn = j["dimension_names"];
    if (!dn.is_array() || dn.size() != rank ||
        !std::all_of(dn.begin(), dn.end(),
                     [](const auto& v) { return v.is_string() || v.is_null(); })) {
      throw InvalidArgument(where + ": \"dimension_names\" must be a list of " +
                            std::to_string(rank) + " strings or nulls, got " + dn.dump());
    }
  }

  codecs_ = CodecChain::FromJson(require("codecs"), where);
  unit_spec_ = ChunkSpec{layout_.dtype, layout_.write_chunks, layout_.fill_value};
  layout_.chunks = layout_.write_chunks;

  // Check a sharding codec against the shape it will see now, rather than at the first read.
  ChunkSpec s = unit_spec_;
  try {
    for (const auto& c : codecs_.array_codecs()) s = c->EncodedSpec(s);
    if (auto sh = std::dynamic_pointer_cast<const ShardingCodec>(codecs_.array_to_bytes())) {
      sh->InnerGrid(s.shape);
      sh->IndexSize(s.shape);
      if (codecs_.array_codecs().empty() && codecs_.bytes_codecs().empty()) {
        sharding_ = sh;
        layout_.chunks = sh->inner_chunk_shape();
      }
    }
  } catch (const Error& e) {
    throw WithContext(e, where + ": codecs");
  }
}

std::string Zarr3Driver::UnitKey(const Shape& unit_index) const {
  std::string key = v2_keys_ ? "" : "c" + separator_;
  for (size_t i = 0; i < unit_index.size(); ++i) {
    if (i) key += separator_;
    key += std::to_string(unit_index[i]);
  }
  return key;
}

Array Zarr3Driver::DecodeUnit(ByteView bytes, const Shape&) const {
  return codecs_.Decode(bytes, unit_spec_);
}

Array Zarr3Driver::DecodeOwnedUnit(Bytes&& bytes, const Shape&) const {
  return codecs_.DecodeOwned(std::move(bytes), unit_spec_);
}

std::optional<Bytes> Zarr3Driver::EncodeUnit(const Array& unit, const Shape&) const {
  if (unit.shape() != layout_.write_chunks || unit.dtype() != layout_.dtype) {
    throw Internal("zarr3: unit of shape " + ShapeToString(unit.shape()) + " does not match " +
                   ShapeToString(layout_.write_chunks));
  }
  if (unit.AllEqual(layout_.fill_value)) return std::nullopt;
  return codecs_.Encode(unit, unit_spec_);
}

std::optional<Bytes> Zarr3Driver::EncodeUnitFrom(const Array& src, const Shape& origin,
                                                 const Shape& unit_index) const {
  if (!sharding_) return FormatDriver::EncodeUnitFrom(src, origin, unit_index);
  if (src.dtype() != layout_.dtype) {
    throw Internal("zarr3: " + std::string(DataTypeName(src.dtype())) + " data for a " +
                   std::string(DataTypeName(layout_.dtype)) + " array");
  }
  return sharding_->EncodeRegion(src, origin, unit_spec_);
}

// An unsharded chunk whose bytes codec stores its elements as they are (no transpose) goes
// from `src` to the bytes->bytes codecs with one copy, or to the store with none.
std::optional<UnitBytes> Zarr3Driver::EncodeUnitView(const Array& src, const Shape& origin,
                                                     const Shape& unit_index,
                                                     Bytes& scratch) const {
  if (sharding_ || src.dtype() != layout_.dtype || !StoresElementsAsTheyAre()) {
    return FormatDriver::EncodeUnitView(src, origin, unit_index, scratch);
  }
  return EncodeStoredElements(src, origin, layout_, codecs_.bytes_codecs(), unit_spec_,
                              /*drop_fill_units=*/true, scratch);
}

std::optional<Array> Zarr3Driver::ReadUnitRegion(const KvStore& kv, const Shape& unit_index,
                                                 const Box& local) const {
  if (!sharding_ || local == Box::FromShape(layout_.write_chunks)) {
    return FormatDriver::ReadUnitRegion(kv, unit_index, local);
  }
  Array out = Array::Uninitialized(layout_.dtype, local.shape);
  if (!ReadShardInto(kv, UnitKey(unit_index), local, out, Shape(local.rank(), 0))) {
    return std::nullopt;
  }
  return out;
}

bool Zarr3Driver::ReadUnitInto(const KvStore& kv, const Shape& unit_index, const Box& local,
                               Array& out, const Shape& out_origin) const {
  if (!sharding_) return FormatDriver::ReadUnitInto(kv, unit_index, local, out, out_origin);
  return ReadShardInto(kv, UnitKey(unit_index), local, out, out_origin);
}

bool Zarr3Driver::ReadShardInto(const KvStore& kv, const std::string& key, const Box& local,
                                Array& out, const Shape& out_origin) const {
  const ShardingCodec& sh = *sharding_;
  const Shape& shard = layout_.write_chunks;
  const Shape& inner = sh.inner_chunk_shape();
  const Shape grid = sh.InnerGrid(shard);
  const auto index_size = static_cast<int64_t>(sh.IndexSize(shard));

  // The whole shard is one read, and its size lets the index be checked against it; a part
  // is the index and then only the inner chunks it needs.
  const bool whole = local == Box::FromShape(shard);
  std::optional<Bytes> shard_bytes;
  std::optional<Bytes> index_bytes;
  ByteView index;
  if (whole) {
    shard_bytes = kv.Get(key);
    if (!shard_bytes) return false;
    if (shard_bytes->size() < static_cast<size_t>(index_size)) {
      throw DataLoss(kv.Describe(key) + ": shard has " + std::to_string(shard_bytes->size()) +
                     " bytes, fewer than its " + std::to_string(index_size) + "-byte index");
    }
    const ByteView all = *shard_bytes;
    index = sh.index_at_end() ? all.subspan(all.size() - static_cast<size_t>(index_size))
                              : all.subspan(0, static_cast<size_t>(index_size));
  } else {
    const ByteRange index_range =
        sh.index_at_end() ? ByteRange{-index_size, -1} : ByteRange{0, index_size};
    index_bytes = kv.GetRange(key, index_range);
    if (!index_bytes) return false;
    index = *index_bytes;
  }
  std::vector<ShardIndexEntry> entries;
  try {
    entries = sh.DecodeIndex(
        index, shard, shard_bytes ? std::optional<uint64_t>(shard_bytes->size()) : std::nullopt);
  } catch (const Error& e) {
    throw WithContext(e, kv.Describe(key));
  }

  struct Needed {
    size_t which;  // C-order number in the inner grid
    Shape origin;  // in shard coordinates
    ByteView bytes;
  };
  std::vector<Needed> needed;
  std::vector<Shape> empty;  // origins of inner chunks not stored
  ForEachGridCell(local, inner, [&](const Shape& cell) {
    size_t which = 0;
    Shape origin(cell.size());
    for (size_t d = 0; d < cell.size(); ++d) {
      which = which * static_cast<size_t>(grid[d]) + static_cast<size_t>(cell[d]);
      origin[d] = cell[d] * inner[d];
    }
    if (entries[which].empty()) {
      empty.push_back(std::move(origin));
    } else {
      needed.push_back({which, std::move(origin), {}});
    }
  });
  // Where an inner chunk at `origin` (shard coordinates) lands in `out`.
  auto place = [&](const Shape& origin) {
    const Box inter = Intersect(Box(origin, inner), local);
    Shape dst = inter.Relative(local.begin).begin;
    for (size_t d = 0; d < dst.size(); ++d) dst[d] += out_origin[d];
    return std::make_pair(inter, dst);
  };

  std::vector<Bytes> runs;
  if (shard_bytes) {
    // DecodeIndex has checked every entry against the shard's size.
    for (Needed& n : needed) {
      const ShardIndexEntry& e = entries[n.which];
      n.bytes = ByteView(*shard_bytes).subspan(e.offset, e.nbytes);
    }
  }
  // Fetch runs of nearby inner chunks with one ranged read each.
  std::vector<size_t> order(shard_bytes ? 0 : needed.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return entries[needed[a].which].offset < entries[needed[b].which].offset;
  });
  runs.reserve(order.size());
  for (size_t i = 0; i < order.size();) {
    const uint64_t begin = entries[needed[order[i]].which].offset;
    uint64_t end = begin + entries[needed[order[i]].which].nbytes;
    size_t j = i + 1;
    while (j < order.size()) {
      const ShardIndexEntry& e = entries[needed[order[j]].which];
      if (e.offset > end + kCoalesceGap) break;
      end = std::max(end, e.offset + e.nbytes);
      ++j;
    }
    const std::string what = "inner chunk " + InnerChunkName(grid, needed[order[i]].which);
    if (end - begin > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw DataLoss(kv.Describe(key) + ": " + what + ": byte range too large");
    }
    std::optional<Bytes> run;
    try {
      run = kv.GetRange(key,
                        ByteRange{static_cast<int64_t>(begin), static_cast<int64_t>(end - begin)});
    } catch (const Error& e) {
      throw WithContext(e, what);
    }
    if (!run || run->size() != end - begin) {
      throw DataLoss(kv.Describe(key) + ": " + what + ": the shard changed or is shorter than " +
                     "its index says (" + std::to_string(end) + " bytes)");
    }
    runs.push_back(std::move(*run));
    for (size_t k = i; k < j; ++k) {
      const ShardIndexEntry& e = entries[needed[order[k]].which];
      needed[order[k]].bytes = ByteView(runs.back()).subspan(e.offset - begin, e.nbytes);
    }
    i = j;
  }

  if (!empty.empty()) {
    const Array fill = Array::Filled(layout_.dtype, inner, layout_.fill_value);
    for (const Shape& origin : empty) {
      const auto [inter, dst] = place(origin);
      CopyRegion(fill, inter.Relative(origin).begin, out, dst, inter.shape);
    }
  }
  const ChunkSpec inner_spec = sh.InnerSpec(unit_spec_);
  // Each inner chunk decodes only what `local` needs of it, straight into `out`.
  ParallelFor(size_t{0}, needed.size(), [&](size_t i) {
    const Needed& n = needed[i];
    const auto [inter, dst] = place(n.origin);
    try {
      sh.DecodeInnerRegionInto(n.bytes, inner_spec, grid, n.which, inter.Relative(n.origin), out,
                               dst);
    } catch (const Error& e) {
      throw WithContext(e, kv.Describe(key));
    }
  });
  return true;
}

// Makes every ancestor of the array (inside the container) a group, keeping existing ones.
void WriteParentGroups(KvStore& root, const std::string& key_in_root) {
  if (key_in_root.empty()) return;
  std::vector<std::string> parents = {""};
  for (size_t pos = key_in_root.find('/'); pos != std::string::npos;
       pos = key_in_root.find('/', pos + 1)) {
    parents.push_back(key_in_root.substr(0, pos));
  }
  nlohmann::ordered_json group;
  group["zarr_format"] = 3;
  group["node_type"] = "group";
  group["attributes"] = nlohmann::ordered_json::object();
  const std::string text = group.dump(2) + "\n";
  for (const auto& p : parents) {
    const std::string key = p.empty() ? kMetadataKey : p + "/" + kMetadataKey;
    if (auto existing = root.Get(key)) {
      const nlohmann::json j = ParseJsonDocument(*existing, root.Describe(key));
      const auto nt = j.is_object() ? j.find("node_type") : j.end();
      if (nt != j.end() && nt->is_string() && *nt == "array") {
        throw FailedPrecondition(root.Describe(key) +
                                 ": is an array; an array cannot be created inside it");
      }
      continue;
    }
    root.Set(key, ByteView(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  }
}

// A codec object with "name" before "configuration", as the specification lists them.
nlohmann::ordered_json OrderedCodec(const nlohmann::json& c) {
  if (!c.is_object() || !c.contains("name")) return nlohmann::ordered_json::parse(c.dump());
  nlohmann::ordered_json o;
  o["name"] = nlohmann::ordered_json::parse(c["name"].dump());
  if (c.contains("configuration")) {
    o["configuration"] = nlohmann::ordered_json::parse(c["configuration"].dump());
  }
  return o;
}

std::shared_ptr<FormatDriver> Create(std::shared_ptr<KvStore> kv, std::shared_ptr<KvStore> root,
                                     const std::string& key_in_root, const CreateOptions& o) {
  const std::string where = kv->Describe(kMetadataKey);
  if (o.endian != "little" && o.endian != "big") {
    throw InvalidArgument(where + ": endian must be \"little\" or \"big\", got \"" + o.endian +
                          "\"");
  }
  if (!o.codecs.is_array()) throw InvalidArgument(where + ": codecs must be a list");
  if (!o.attributes.is_object()) throw InvalidArgument(where + ": attributes must be an object");

  nlohmann::ordered_json key_encoding;
  if (o.chunk_key_encoding == "default") {
    key_encoding = {{"name", "default"}, {"configuration", {{"separator", "/"}}}};
  } else if (o.chunk_key_encoding == "v2") {
    key_encoding = {{"name", "v2"}, {"configuration", {{"separator", "."}}}};
  } else {
    throw InvalidArgument(where + ": chunk_key_encoding must be \"default\" or \"v2\", got \"" +
                          o.chunk_key_encoding + "\"");
  }

  // numcodecs' filters (array->array) before "bytes", in native byte order as zarr-python 3
  // hands them the chunk; bytes->bytes codecs after it.
  nlohmann::json chain;
  try {
    chain = ChainAroundBytes(ResolveCodecSpec(o.codecs, Zarr2DType{o.dtype, false}), o.endian);
  } catch (const Error& e) {
    throw WithContext(e, where);
  }
  nlohmann::ordered_json codecs = nlohmann::ordered_json::array();
  for (const auto& c : chain) codecs.push_back(OrderedCodec(c));
  Shape grid_shape = o.chunks;
  if (o.shards) {
    const Shape& shards = *o.shards;
    bool ok = shards.size() == o.chunks.size();
    for (size_t i = 0; ok && i < shards.size(); ++i) {
      ok = shards[i] > 0 && shards[i] % o.chunks[i] == 0;
    }
    if (!ok) {
      throw InvalidArgument(where + ": shards " + ShapeToString(shards) +
                            " must be positive multiples of the chunks " + ShapeToString(o.chunks));
    }
    grid_shape = shards;
    nlohmann::ordered_json index_codecs = nlohmann::ordered_json::array();
    index_codecs.push_back({{"name", "bytes"}, {"configuration", {{"endian", "little"}}}});
    index_codecs.push_back({{"name", "crc32c"}});
    nlohmann::ordered_json sharding = {{"name", "sharding_indexed"},
                                       {"configuration",
                                        {{"chunk_shape", o.chunks},
                                         {"codecs", codecs},
                                         {"index_codecs", index_codecs},
                                         {"index_location", "end"}}}};
    codecs = nlohmann::ordered_json::array({sharding});
  }

  const Bytes fill = ParseFillValue(o.fill_value, o.dtype, where);
  // Hex strings keep an exact float bit pattern (a NaN payload) that the decimal form loses.
  nlohmann::json fill_json = FillValueToJson(fill, o.dtype);
  if (o.fill_value.is_string() && o.fill_value.get<std::string>().rfind("0x", 0) == 0) {
    fill_json = o.fill_value;
  }

  nlohmann::ordered_json meta;
  meta["zarr_format"] = 3;
  meta["node_type"] = "array";
  meta["shape"] = o.shape;
  meta["data_type"] = DataTypeName(o.dtype);
  meta["chunk_grid"] = {{"name", "regular"}, {"configuration", {{"chunk_shape", grid_shape}}}};
  meta["chunk_key_encoding"] = key_encoding;
  meta["fill_value"] = nlohmann::ordered_json::parse(fill_json.dump());
  meta["codecs"] = codecs;
  meta["attributes"] = nlohmann::ordered_json::parse(o.attributes.dump());
  if (!o.dimension_names.empty()) meta["dimension_names"] = o.dimension_names;
  const std::string text = meta.dump(2) + "\n";

  // Parse our own document first: a bad codec or shape fails before anything is written.
  auto driver = std::make_shared<Zarr3Driver>(nlohmann::json::parse(text), where);
  WriteParentGroups(*root, key_in_root);
  kv->Set(kMetadataKey, ByteView(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  return driver;
}

}  // namespace

void RegisterZarr3Format() {
  Format f;
  f.name = "zarr3";
  f.probe = [](const KvStore& kv) {
    auto bytes = kv.Get(kMetadataKey);
    if (!bytes) return false;
    // A group is not an array; anything else claiming to be one gets a precise error from open.
    try {
      const nlohmann::json j = ParseJsonDocument(*bytes, "");
      // Not j.value("node_type", ""): that throws an untyped json error for a non-string.
      if (!j.is_object()) return true;
      const auto it = j.find("node_type");
      return !(it != j.end() && it->is_string() && *it == "group");
    } catch (const Error&) {
      return true;
    }
  };
  f.open = [](std::shared_ptr<KvStore> kv, const std::string&) -> std::shared_ptr<FormatDriver> {
    const std::string where = kv->Describe(kMetadataKey);
    auto bytes = kv->Get(kMetadataKey);
    if (!bytes) throw NotFound(where + ": no such file");
    return std::make_shared<Zarr3Driver>(ParseJsonDocument(*bytes, where), where);
  };
  f.create = Create;
  RegisterFormat(std::move(f));
}

}  // namespace volbatch
