// The Zarr v2 format. An array is a directory holding
//   .zarray   JSON metadata: zarr_format 2, shape, chunks, dtype ("<u2"), compressor, fill_value,
//             order ("C"/"F"), filters, dimension_separator ("." or "/")
//   .zattrs   JSON attributes (optional)
//   0.1.2     one file per chunk, named by its grid indices joined by the separator ("0/1/2")
// A chunk file holds the full chunk shape, also at the array's edge (the part outside the array
// is the fill value): its elements in C order, or in F order (the chunk's axes reversed), each
// in the dtype's byte order, passed through the filters in list order and then the compressor.
// Chunks equal to the fill value everywhere are not stored. Parent directories up to the
// container root are groups (.zgroup).
//
// Cost per chunk: the compressor, plus one copy for byte swapping (big-endian dtypes), one
// transpose (order F) and one pass per filter; edge chunks pay one extra copy on write. A
// whole chunk written from a larger array (Dataset::Write) whose stream is its elements as
// they are (C order, no swap, no filter) is gathered once into a reused per-thread buffer and
// compressed from there, or stored from there uncompressed; a chunk lying contiguous in that
// array is not copied at all. Its all-fill-value check stops at the first other element.
#include <nlohmann/json.hpp>

#include "volbatch/codec/registry.h"
#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/store/driver.h"
#include "volbatch/store/fill_value.h"
#include "volbatch/store/formats.h"
#include "volbatch/store/zarr2_codecs.h"
#include "volbatch/store/zarr2_dtype.h"
#include "volbatch/store/zarr2_filters.h"
#include "volbatch/store/zarr2_group.h"
#include "volbatch/store/zarr2_gzip.h"

namespace volbatch {
namespace {

using nlohmann::json;

constexpr const char* kZarray = ".zarray";
constexpr const char* kZattrs = ".zattrs";

struct Zarr2Metadata {
  ArrayLayout layout;
  Zarr2DType dtype;
  bool fill_is_null = false;  // no fill value: every chunk is stored (readers see 0 if absent)
  bool fortran = false;
  char separator = '.';
  std::vector<std::shared_ptr<const Zarr2Filter>> filters;  // encode order
  Zarr2DType encoded_type;  // the element type the byte codecs see (after the filters)
  // Byte codecs in encode order: byte codecs listed in "filters", then the compressor.
  std::vector<std::shared_ptr<const BytesCodec>> codecs;
  json document;
};

std::string Field(const char* name, const std::string& file) {
  return std::string("\"") + name + "\" in " + file;
}

Shape ParseShape(const json& j, const char* name, const std::string& file, Index min) {
  if (!j.contains(name)) throw InvalidArgument(Field(name, file) + " is missing");
  const json& v = j[name];
  if (!v.is_array()) throw InvalidArgument(Field(name, file) + " must be a list of integers");
  Shape s;
  for (const json& e : v) {
    if (!e.is_number_integer() || e.get<int64_t>() < min) {
      throw InvalidArgument(Field(name, file) + " must be a list of integers >= " +
                            std::to_string(min) + ", got " + v.dump());
    }
    s.push_back(e.get<Index>());
  }
  const std::string what = Field(name, file);
  CheckRank(s.size(), what.c_str());
  return s;
}

// The element size numcodecs sees entering the next byte codec: the array's until a byte codec
// has run, whose output (bytes, or shuffle's uint8 array) has one-byte elements.
size_t BytesCodecTypesize(const Zarr2Metadata& m, Zarr2DType current) {
  return m.codecs.empty() ? ByteSize(current.dtype) : 1;
}

Zarr2Metadata ParseZarray(const json& j, const std::string& file) {
  if (!j.is_object()) throw InvalidArgument(file + ": metadata must be a JSON object");
  Zarr2Metadata m;
  m.document = j;
  if (!j.contains("zarr_format")) throw InvalidArgument(Field("zarr_format", file) + " is missing");
  if (j["zarr_format"] != 2) {
    throw InvalidArgument(Field("zarr_format", file) + " must be 2, got " +
                          j["zarr_format"].dump());
  }
  ArrayLayout& l = m.layout;
  l.shape = ParseShape(j, "shape", file, 0);
  l.chunks = ParseShape(j, "chunks", file, 1);
  if (l.chunks.size() != l.shape.size()) {
    throw InvalidArgument(Field("chunks", file) + " " + ShapeToString(l.chunks) +
                          " and \"shape\" " + ShapeToString(l.shape) + " differ in rank");
  }
  l.write_chunks = l.chunks;

  if (!j.contains("dtype")) throw InvalidArgument(Field("dtype", file) + " is missing");
  if (!j["dtype"].is_string()) {
    throw Unsupported(Field("dtype", file) + ": structured dtype " + j["dtype"].dump() +
                      " is not supported");
  }
  m.dtype = ParseZarr2DType(j["dtype"].get<std::string>(), Field("dtype", file));
  l.dtype = m.dtype.dtype;

  if (!j.contains("fill_value")) throw InvalidArgument(Field("fill_value", file) + " is missing");
  m.fill_is_null = j["fill_value"].is_null();
  l.fill_value = ParseFillValue(j["fill_value"], l.dtype, Field("fill_value", file));

  if (!j.contains("order")) throw InvalidArgument(Field("order", file) + " is missing");
  if (j["order"] != "C" && j["order"] != "F") {
    throw InvalidArgument(Field("order", file) + " must be \"C\" or \"F\", got " +
                          j["order"].dump());
  }
  m.fortran = j["order"] == "F";

  if (j.contains("dimension_separator") && !j["dimension_separator"].is_null()) {
    const json& s = j["dimension_separator"];
    if (s != "." && s != "/") {
      throw InvalidArgument(Field("dimension_separator", file) + " must be \".\" or \"/\", got " +
                            s.dump());
    }
    m.separator = s.get<std::string>()[0];
  }

  // Filters: array filters first (each reinterprets the bytes as its own dtype, as numcodecs
  // does), then byte codecs. The element size must stay the same so that a chunk's element
  // count, and hence every size check, is known before decoding.
  Zarr2DType current = m.dtype;
  size_t widest = ByteSize(current.dtype);
  if (j.contains("filters") && !j["filters"].is_null()) {
    const json& filters = j["filters"];
    if (!filters.is_array())
      throw InvalidArgument(Field("filters", file) + " must be null or a list");
    for (size_t i = 0; i < filters.size(); ++i) {
      const std::string what = "filters[" + std::to_string(i) + "] in " + file;
      const json& f = filters[i];
      if (!f.is_object() || !f.contains("id") || !f["id"].is_string()) {
        throw InvalidArgument(what + " must be an object with a string \"id\"");
      }
      const std::string id = f["id"].get<std::string>();
      if (IsZarr2ArrayFilter(id)) {
        if (!m.codecs.empty()) {
          throw Unsupported(what + ": array filter \"" + id + "\" after a byte codec");
        }
        if (!m.filters.empty() && m.filters.back()->EncodedBytes(1) != ByteSize(current.dtype)) {
          throw Unsupported(what + ": array filter \"" + id + "\" after one that changes the " +
                            "element count");
        }
        MakeZarr2Filter(f, what);  // the configuration alone must be complete, as numcodecs needs
        auto filter = MakeZarr2Filter(f, what, current);
        if (ByteSize(filter->decoded_type().dtype) != ByteSize(current.dtype)) {
          throw Unsupported(what + ": filter \"" + id + "\" decodes to " +
                            Zarr2DTypeString(filter->decoded_type()) + ", whose element size " +
                            "differs from " + Zarr2DTypeString(current));
        }
        current = filter->encoded_type();
        widest = std::max(widest, ByteSize(current.dtype));
        m.filters.push_back(std::move(filter));
      } else if (IsNumcodecsBytesCodec(id)) {
        m.codecs.push_back(MakeNumcodecsCodec(f, BytesCodecTypesize(m, current), what));
      } else {
        // The array filter's error, which lists the filters volbatch reads.
        MakeZarr2Filter(f, what);
      }
    }
  }
  m.encoded_type = current;

  if (!j.contains("compressor")) throw InvalidArgument(Field("compressor", file) + " is missing");
  if (!j["compressor"].is_null()) {
    m.codecs.push_back(MakeNumcodecsCodec(j["compressor"], BytesCodecTypesize(m, current),
                                          Field("compressor", file)));
  }

  const Index n = NumElements(l.chunks, Field("chunks", file).c_str());
  if (CheckedMul(n, static_cast<int64_t>(widest), Field("chunks", file)) > kMaxChunkBytes) {
    throw InvalidArgument(Field("chunks", file) + " " + ShapeToString(l.chunks) + " of " +
                          Zarr2DTypeString(m.dtype) + " exceeds the chunk size limit of " +
                          std::to_string(kMaxChunkBytes) + " bytes");
  }
  return m;
}

std::vector<size_t> ReversedAxes(size_t rank) {
  std::vector<size_t> perm(rank);
  for (size_t i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
  return perm;
}

// Sets the part of an edge chunk that lies outside the array to the fill value.
void FillOutside(Array& chunk, const Shape& origin, const ArrayLayout& l) {
  for (size_t i = 0; i < chunk.rank(); ++i) {
    const Index valid = std::clamp<Index>(l.shape[i] - origin[i], 0, chunk.shape()[i]);
    if (valid == chunk.shape()[i]) continue;
    Shape begin(chunk.rank(), 0), extent = chunk.shape();
    begin[i] = valid;
    extent[i] -= valid;
    const Array fill = Array::Filled(chunk.dtype(), extent, l.fill_value);
    CopyRegion(fill, Shape(chunk.rank(), 0), chunk, begin, extent);
  }
}

bool IsEdgeChunk(const Shape& origin, const ArrayLayout& l) {
  for (size_t i = 0; i < origin.size(); ++i) {
    if (origin[i] + l.chunks[i] > l.shape[i]) return true;
  }
  return false;
}

class Zarr2Driver : public FormatDriver {
 public:
  Zarr2Driver(Zarr2Metadata m, json attributes)
      : m_(std::move(m)), attributes_(std::move(attributes)) {
    spec_.dtype = m_.encoded_type.dtype;
    spec_.shape = m_.layout.chunks;
    spec_.fill_value = Bytes(ByteSize(spec_.dtype), std::byte{0});
  }

  std::string format_name() const override { return "zarr2"; }
  const ArrayLayout& layout() const override { return m_.layout; }

  std::string UnitKey(const Shape& idx) const override {
    std::string key;
    for (size_t i = 0; i < idx.size(); ++i) {
      if (i) key += m_.separator;
      key += std::to_string(idx[i]);
    }
    return key;
  }

  Array DecodeUnit(ByteView bytes, const Shape& idx) const override {
    return Decode(bytes, nullptr, idx);
  }

  Array DecodeOwnedUnit(Bytes&& bytes, const Shape& idx) const override {
    return Decode(bytes, &bytes, idx);
  }

  bool DecodesUnitRegions() const override {
    return m_.filters.empty() && m_.codecs.size() == 1 && m_.codecs[0]->DecodesRanges() &&
           !m_.fortran && m_.encoded_type.dtype == m_.layout.dtype &&
           (!m_.dtype.big_endian || ByteSize(m_.layout.dtype) == 1);
  }

  // Edge chunks are decoded whole: what lies outside the array is replaced by the fill value.
  std::optional<Array> DecodeUnitRegion(ByteView bytes, const Shape& idx,
                                        const Box& local) const override {
    if (!DecodesUnitRegions() || IsEdgeChunk(Origin(idx), m_.layout)) return std::nullopt;
    return DecodeRegionOfElements(*m_.codecs[0], bytes, spec_, local);
  }

  // `owned`, when given, holds `bytes` and may be taken over.
  Array Decode(ByteView bytes, Bytes* owned, const Shape& idx) const {
    const ArrayLayout& l = m_.layout;
    const size_t n = static_cast<size_t>(NumElements(l.chunks, "chunk shape"));
    const size_t expected = m_.filters.empty() ? n * ByteSize(m_.encoded_type.dtype)
                                               : m_.filters.back()->EncodedBytes(n);
    Bytes buf;
    if (m_.codecs.empty()) {
      if (owned) {
        buf = std::move(*owned);
      } else {
        buf = CopyBytes(bytes);
      }
    } else {
      // Streams between two byte codecs may be larger than the raw chunk: codec i decodes to
      // at most what the codecs before it can make of it (BytesCodec::MaxEncodedSize).
      std::vector<size_t> bounds{expected};
      for (size_t i = 1; i < m_.codecs.size(); ++i) {
        bounds.push_back(m_.codecs[i - 1]->MaxEncodedSize(bounds.back()));
      }
      buf = m_.codecs.back()->Decode(bytes, bounds.back(), spec_);
      for (size_t i = m_.codecs.size() - 1; i-- > 0;) {
        buf = m_.codecs[i]->Decode(buf, bounds[i], spec_);
      }
    }
    if (buf.size() != expected) {
      throw DataLoss("chunk decodes to " + std::to_string(buf.size()) + " bytes, expected " +
                     std::to_string(expected) + " (chunk shape " + ShapeToString(l.chunks) +
                     " of " + Zarr2DTypeString(m_.encoded_type) + ")");
    }
    for (size_t i = m_.filters.size(); i-- > 0;) buf = m_.filters[i]->Decode(buf, n);
    if (m_.dtype.big_endian) SwapBytes(buf, ByteSize(l.dtype));
    Array chunk;
    if (m_.fortran) {
      Shape reversed(l.chunks.rbegin(), l.chunks.rend());
      chunk = Transpose(Array::FromBytes(l.dtype, reversed, std::move(buf)),
                        ReversedAxes(l.chunks.size()));
    } else {
      chunk = Array::FromBytes(l.dtype, l.chunks, std::move(buf));
    }
    const Shape origin = Origin(idx);
    if (IsEdgeChunk(origin, l)) FillOutside(chunk, origin, l);
    return chunk;
  }

  std::optional<Bytes> EncodeUnit(const Array& unit, const Shape& idx) const override {
    const ArrayLayout& l = m_.layout;
    if (unit.shape() != l.chunks || unit.dtype() != l.dtype) {
      throw Internal("zarr2: unit of shape " + ShapeToString(unit.shape()) +
                     " does not match the chunk shape " + ShapeToString(l.chunks));
    }
    const Shape origin = Origin(idx);
    std::optional<Array> edge;
    if (IsEdgeChunk(origin, l)) {
      edge = unit;
      FillOutside(*edge, origin, l);
    }
    const Array& chunk = edge ? *edge : unit;
    if (!m_.fill_is_null && chunk.AllEqual(l.fill_value)) return std::nullopt;
    const bool swap = m_.dtype.big_endian && ByteSize(l.dtype) > 1;
    size_t next = 0;
    Bytes buf;
    if (ElementsAsStored() && !m_.codecs.empty()) {
      // The compressor reads the chunk's own bytes: no copy.
      buf = m_.codecs[next++]->Encode(chunk.bytes(), spec_);
    } else {
      buf = m_.fortran ? Transpose(chunk, ReversedAxes(chunk.rank())).release()
                       : CopyBytes(chunk.bytes());
      if (swap) SwapBytes(buf, ByteSize(l.dtype));
      const size_t n = static_cast<size_t>(chunk.num_elements());
      for (const auto& f : m_.filters) buf = f->Encode(buf, n);
    }
    for (; next < m_.codecs.size(); ++next) buf = m_.codecs[next]->Encode(buf, spec_);
    return buf;
  }

  // A whole chunk inside the array whose stream is its elements as they are goes from `src`
  // to the compressor with one copy, into `scratch`, or uncompressed to the store with none.
  std::optional<UnitBytes> EncodeUnitView(const Array& src, const Shape& origin, const Shape& idx,
                                          Bytes& scratch) const override {
    const ArrayLayout& l = m_.layout;
    if (!ElementsAsStored() || src.dtype() != l.dtype || IsEdgeChunk(Origin(idx), l)) {
      return FormatDriver::EncodeUnitView(src, origin, idx, scratch);
    }
    return EncodeStoredElements(src, origin, l, m_.codecs, spec_, !m_.fill_is_null, scratch);
  }

  bool StoresUnitsAsElements() const override {
    return ElementsAsStored() && m_.codecs.empty() && m_.encoded_type.dtype == m_.layout.dtype;
  }

  json Metadata() const override { return m_.document; }

  std::string CodecSummary() const override {
    std::string s = m_.fortran ? "order F | " : "";
    for (const auto& f : m_.filters) s += f->Summary() + " | ";
    s += std::string("bytes(") + (m_.dtype.big_endian ? "big" : "little") + ")";
    for (const auto& c : m_.codecs) {
      const json j = c->ToJson();
      s += " | " + j.value("name", std::string("?")) + "(";
      bool first = true;
      const json config = j.value("configuration", json::object());
      for (const auto& [k, v] : config.items()) {
        s += (first ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        first = false;
      }
      s += ")";
    }
    return s;
  }

  json Attributes() const override { return attributes_; }

  // A "gzip" compressor whose first chunk is a zlib stream (z5py): said once, from one chunk.
  std::vector<std::string> Notes(const KvStore& kv) const override {
    const json& c = m_.document.value("compressor", json());
    if (!c.is_object() || c.value("id", "") != "gzip" || m_.codecs.size() != 1) return {};
    const auto first = kv.Get(UnitKey(Shape(m_.layout.chunks.size(), 0)));
    if (!first || !IsZlibFramed(*first)) return {};
    return {kZlibFramedGzipNote};
  }

 private:
  Shape Origin(const Shape& idx) const {
    Shape o(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) o[i] = idx[i] * m_.layout.chunks[i];
    return o;
  }

  // True if the stream the byte codecs see is the chunk's elements as they are: C order, no
  // byte swap, no filter.
  bool ElementsAsStored() const {
    const bool swap = m_.dtype.big_endian && ByteSize(m_.layout.dtype) > 1;
    return !m_.fortran && !swap && m_.filters.empty();
  }

  Zarr2Metadata m_;
  json attributes_;
  ChunkSpec spec_;  // what the byte codecs see: the encoded element type, chunk shape
};

json ReadJson(const KvStore& kv, const std::string& key) {
  auto bytes = kv.Get(key);
  if (!bytes) throw NotFound(kv.Describe(key) + ": missing");
  try {
    return json::parse(reinterpret_cast<const char*>(bytes->data()),
                       reinterpret_cast<const char*>(bytes->data()) + bytes->size());
  } catch (const json::exception& e) {
    throw InvalidArgument(kv.Describe(key) + ": not valid JSON (" + e.what() + ")");
  }
}

void WriteJson(KvStore& kv, const std::string& key, const json& j) {
  const std::string text = j.dump(4);
  kv.Set(key, ByteView(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

json ReadAttributes(const KvStore& kv) {
  if (!kv.Get(kZattrs)) return json::object();
  json a = ReadJson(kv, kZattrs);
  if (!a.is_object()) throw InvalidArgument(kv.Describe(kZattrs) + ": must be a JSON object");
  return a;
}

std::shared_ptr<FormatDriver> Open(std::shared_ptr<KvStore> kv, const std::string&) {
  const json doc = ReadJson(*kv, kZarray);
  Zarr2Metadata m = ParseZarray(doc, kv->Describe(kZarray));
  return std::make_shared<Zarr2Driver>(std::move(m), ReadAttributes(*kv));
}

// A numcodecs configuration ({"id": ...}) for a resolved Zarr v3 codec: numcodecs' filters
// keep their configuration, bytes codecs are translated.
json ToNumcodecs(const json& codec, const std::string& what) {
  if (codec.is_object() && codec.contains("name") && codec["name"].is_string() &&
      KindOfCodec(codec["name"]) == CodecKind::kArrayToArray) {
    const std::string name = codec["name"];
    if (name.rfind("numcodecs.", 0) != 0) {
      throw InvalidArgument(what + ": array codec \"" + name + "\" has no Zarr v2 form");
    }
    json j = codec.value("configuration", json::object());
    j["id"] = name.substr(std::string("numcodecs.").size());
    return j;
  }
  return V3ToNumcodecs(codec, what);
}

// The "filters" and "compressor" of a .zarray for resolved codecs: the last bytes codec is the
// compressor; array filters and any bytes codecs before it go into "filters", which
// zarr-python applies in order before the compressor. A spec of filters only has no compressor.
std::pair<json, json> Zarr2FiltersAndCompressor(const json& codecs) {
  json filters = json::array();
  json compressor = nullptr;
  for (size_t i = 0; i < codecs.size(); ++i) {
    json c = ToNumcodecs(codecs[i], "codecs[" + std::to_string(i) + "]");
    const bool last = i + 1 == codecs.size();
    if (last && !IsZarr2ArrayFilter(c["id"].get<std::string>())) {
      compressor = std::move(c);
    } else {
      filters.push_back(std::move(c));
    }
  }
  return {filters.empty() ? json(nullptr) : filters, compressor};
}

// The .zarray document for `o`; validated afterwards by the same parser that reads it.
json BuildZarray(const CreateOptions& o) {
  if (o.shards) throw InvalidArgument("shards are a Zarr v3 feature; Zarr v2 cannot store them");
  if (o.endian != "little" && o.endian != "big") {
    throw InvalidArgument("endian must be \"little\" or \"big\", got \"" + o.endian + "\"");
  }
  if (o.order != "C" && o.order != "F") {
    throw InvalidArgument("order must be \"C\" or \"F\", got \"" + o.order + "\"");
  }
  if (o.dimension_separator != "." && o.dimension_separator != "/") {
    throw InvalidArgument("dimension_separator must be \".\" or \"/\", got \"" +
                          o.dimension_separator + "\"");
  }
  const Zarr2DType dtype{o.dtype, o.endian == "big" && ByteSize(o.dtype) > 1};
  const auto [filters, compressor] = Zarr2FiltersAndCompressor(ResolveCodecSpec(o.codecs, dtype));
  return {
      {"zarr_format", 2},
      {"shape", o.shape},
      {"chunks", o.chunks},
      {"dtype", Zarr2DTypeString(dtype)},
      {"compressor", compressor},
      {"fill_value", FillValueToJson(ParseFillValue(o.fill_value, o.dtype, "fill_value"), o.dtype)},
      {"order", o.order},
      {"filters", filters},
      {"dimension_separator", o.dimension_separator},
  };
}

std::shared_ptr<FormatDriver> Create(std::shared_ptr<KvStore> kv, std::shared_ptr<KvStore> root,
                                     const std::string& key_in_root, const CreateOptions& o) {
  const json doc = BuildZarray(o);
  Zarr2Metadata m = ParseZarray(doc, kv->Describe(kZarray));
  if (!o.attributes.is_object()) throw InvalidArgument("attributes must be a JSON object");
  json attributes = o.attributes;
  if (!o.dimension_names.empty()) attributes["_ARRAY_DIMENSIONS"] = o.dimension_names;
  WriteZarr2ParentGroups(*root, key_in_root);
  if (!attributes.empty()) WriteJson(*kv, kZattrs, attributes);
  // Last, so that a reader who finds .zarray finds everything it refers to.
  WriteJson(*kv, kZarray, doc);
  return std::make_shared<Zarr2Driver>(std::move(m), attributes);
}

}  // namespace

void RegisterZarr2Format() {
  RegisterFormat(Format{
      .name = "zarr2",
      .probe = [](const KvStore& kv) { return kv.Get(kZarray).has_value(); },
      .open = Open,
      .create = Create,
  });
}

}  // namespace volbatch
