// Codec spec strings of the command line and job file ("zstd:3", "blosc:lz4:5:shuffle",
// "zstd:3+crc32c", "delta+shuffle+zstd:3", "raw") turned into Zarr v3 codec JSON: numcodecs'
// array filters (array->array, first), then bytes->bytes codecs. Bytes codecs are built through
// the registry, so the result is validated and has every default filled in; filters and what
// they take from the array's dtype are completed by ResolveCodecSpec once the dtype is known.
#include <charconv>
#include <cmath>
#include <map>
#include <string_view>
#include <vector>

#include "volbatch/codec/numcodecs_filters.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.emplace_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

int64_t ParseInt(const std::string& text, const std::string& what) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) {
    throw InvalidArgument(what + " \"" + text + "\" is not an integer");
  }
  return v;
}

// An integer stays an integer in the JSON (as numcodecs writes offset=1000); else a double.
json ParseNumber(const std::string& text, const std::string& what) {
  int64_t i = 0;
  const char* end = text.data() + text.size();
  if (auto [p, ec] = std::from_chars(text.data(), end, i); ec == std::errc() && p == end) return i;
  double d = 0;
  const auto [p, ec] = std::from_chars(text.data(), end, d);
  if (text.empty() || ec != std::errc() || p != end || !std::isfinite(d)) {
    throw InvalidArgument(what + " \"" + text + "\" is not a finite number");
  }
  return d;
}

enum class ParamKind { kInt, kNumber, kString, kDType };

struct Param {
  const char* field;
  ParamKind kind;
  bool required = false;
};

// A short form "name[:param[:param...]]": the codec it names, its positional parameters and
// the configuration they start from. Adding a short form is one line in Shorthands().
struct Shorthand {
  std::string codec;
  std::vector<Param> params;
  json defaults = json::object();
};

const std::map<std::string, Shorthand>& Shorthands() {
  using K = ParamKind;
  static const std::map<std::string, Shorthand> table = {
      {"gzip", {"gzip", {{"level", K::kInt}}}},
      {"zlib", {"zlib", {{"level", K::kInt}}}},
      {"zstd", {"zstd", {{"level", K::kInt}}}},
      {"bz2", {"bz2", {{"level", K::kInt}}}},
      {"xz", {"xz", {{"level", K::kInt}}}},
      {"lz4", {"lz4", {{"acceleration", K::kInt}}}},
      {"blosc",
       {"blosc",
        {{"cname", K::kString}, {"clevel", K::kInt}, {"shuffle", K::kString}},
        {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}}}},
      {"crc32c", {"crc32c", {}}},
      {"shuffle", {"numcodecs.shuffle", {{"elementsize", K::kInt}}}},
      {"delta", {"numcodecs.delta", {{"astype", K::kDType}}}},
      {"fixedscaleoffset",
       {"numcodecs.fixedscaleoffset",
        {{"offset", K::kNumber, true}, {"scale", K::kNumber, true}, {"astype", K::kDType}}}},
      {"quantize", {"numcodecs.quantize", {{"digits", K::kInt, true}, {"astype", K::kDType}}}},
      {"bitround", {"numcodecs.bitround", {{"keepbits", K::kInt, true}}}},
      {"packbits", {"numcodecs.packbits", {}}},
      {"astype", {"numcodecs.astype", {{"encode_dtype", K::kDType, true}}}},
  };
  return table;
}

// Bytes codec fields that, when absent, the array's element size decides at creation (as
// zarr-python 3's evolve_from_array_spec does).
const std::map<std::string, std::string>& ElementSizeFields() {
  static const std::map<std::string, std::string> fields = {{"numcodecs.shuffle", "elementsize"}};
  return fields;
}

bool LeftToArray(const std::string& name, const json& config) {
  const auto it = ElementSizeFields().find(name);
  return it != ElementSizeFields().end() && !config.contains(it->second);
}

const char* const kKnown =
    "raw, gzip[:level], zlib[:level], zstd[:level], lz4[:acceleration], "
    "bz2[:level], xz[:level], blosc[:cname[:clevel[:shuffle]]], crc32c, shuffle[:elementsize]; "
    "array filters before them: delta[:astype], fixedscaleoffset:offset:scale[:astype], "
    "quantize:digits[:astype], bitround:keepbits, packbits, astype:encode_dtype; or any "
    "registered codec as Zarr v3 JSON ({\"name\": \"numcodecs.zlib\", \"configuration\": {...}})";

// A codec as the spec gives it: bytes codecs built (validated, defaults filled) unless the
// array decides part of them; array filters as given (ResolveCodecSpec validates them).
json Complete(const std::string& name, const json& config) {
  const CodecKind kind = KindOfCodec(name);
  if (kind == CodecKind::kArrayToArray || LeftToArray(name, config)) {
    return {{"name", name}, {"configuration", config}};
  }
  if (kind != CodecKind::kBytesToBytes) {
    throw InvalidArgument("\"" + name +
                          "\" is not a filter or bytes->bytes codec (known: " + kKnown + ")");
  }
  return MakeBytesCodec(name, config)->ToJson();
}

// A part written as Zarr v3 JSON: any registered array->array or bytes->bytes codec.
json ParseJsonPart(const std::string& part) {
  json j;
  try {
    j = json::parse(part);
  } catch (const json::exception& e) {
    throw InvalidArgument("\"" + part + "\" is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    throw InvalidArgument("\"" + part + "\" must be an object with a string \"name\"");
  }
  const json config = j.value("configuration", json::object());
  if (!config.is_object()) {
    throw InvalidArgument("\"" + part + "\": \"configuration\" must be an object");
  }
  return Complete(j["name"].get<std::string>(), config);
}

json ParseParam(const std::string& text, const Param& p, const std::string& what) {
  switch (p.kind) {
    case ParamKind::kInt:
      return ParseInt(text, what);
    case ParamKind::kNumber:
      return ParseNumber(text, what);
    case ParamKind::kDType:
      ParseNumpyDTypeLenient(text, what);
      return text;
    case ParamKind::kString:
      break;
  }
  return text;
}

std::string ParamNames(const std::vector<Param>& params) {
  std::string s;
  for (const Param& p : params) s += (s.empty() ? "" : ", ") + std::string(p.field);
  return s;
}

// One "+"-separated part, e.g. "blosc:zstd:5:bitshuffle", as {name, configuration}.
json ParsePart(const std::string& part) {
  if (part.empty()) throw InvalidArgument("empty codec (a stray \"+\"?)");
  if (part[0] == '{') return ParseJsonPart(part);
  const std::vector<std::string> f = Split(part, ':');
  const std::string& name = f[0];
  if (name == "raw") {
    throw InvalidArgument("\"raw\" (no compression) cannot be combined with other codecs");
  }
  const auto it = Shorthands().find(name);
  if (it == Shorthands().end()) {
    throw InvalidArgument("unknown codec \"" + name + "\" (known: " + kKnown + ")");
  }
  const Shorthand& s = it->second;
  const size_t nargs = f.size() - 1;
  if (nargs > s.params.size()) {
    throw InvalidArgument("\"" + name + "\" takes " +
                          (s.params.empty() ? std::string("no parameters")
                                            : "at most " + std::to_string(s.params.size()) + " (" +
                                                  ParamNames(s.params) + ")") +
                          ", got " + std::to_string(nargs));
  }
  json config = s.defaults;
  for (size_t i = 0; i < s.params.size(); ++i) {
    const Param& p = s.params[i];
    if (i < nargs) {
      config[p.field] = ParseParam(f[i + 1], p, name + " " + p.field);
    } else if (p.required) {
      throw InvalidArgument("\"" + name + "\" needs " + ParamNames(s.params) + " (e.g. \"" + name +
                            ":" + ParamNames(s.params) + "\"), got no " + p.field);
    }
  }
  return Complete(s.codec, config);
}

// A codec's name: a bare string, or an object's "name".
std::string NameOf(const json& c) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_object() && c.contains("name") && c["name"].is_string()) return c["name"];
  throw InvalidArgument("codec " + c.dump() + " must be an object with a string \"name\"");
}

// Array filters act on elements, so they come before every bytes codec.
void CheckOrder(const json& codecs) {
  std::string bytes_codec;
  for (const json& c : codecs) {
    const std::string name = NameOf(c);
    if (KindOfCodec(name) != CodecKind::kArrayToArray) {
      if (bytes_codec.empty()) bytes_codec = name;
    } else if (!bytes_codec.empty()) {
      throw InvalidArgument("array filter \"" + name + "\" after the bytes codec \"" + bytes_codec +
                            "\": filters come first (e.g. \"delta+zstd:3\")");
    }
  }
}

// One array filter completed for elements of `input` (its JSON into `out`); `input` becomes
// its encoded type.
std::shared_ptr<const Zarr2Filter> ResolveFilter(const std::string& name, const json& config,
                                                 Zarr2DType& input, const std::string& what,
                                                 json& out) {
  json numcodecs = config;
  numcodecs["id"] = name.substr(name.find('.') + 1);
  auto f = MakeZarr2Filter(numcodecs, what, input);
  if (ByteSize(f->decoded_type().dtype) != ByteSize(input.dtype)) {
    throw InvalidArgument(what + " decodes to " + Zarr2DTypeString(f->decoded_type()) +
                          ", whose element size differs from the " + Zarr2DTypeString(input) +
                          " elements it is given");
  }
  input = f->encoded_type();
  json full = f->ToJson();
  full.erase("id");
  out = {{"name", name}, {"configuration", full}};
  return f;
}

bool ChangesCount(const Zarr2Filter& f) {
  constexpr size_t kN = 64;
  return f.EncodedBytes(kN) != kN * ByteSize(f.encoded_type().dtype);
}

}  // namespace

json ParseCodecSpec(const std::string& spec, std::optional<DataType> dtype) {
  json codecs = json::array();
  if (spec == "raw") return codecs;
  try {
    if (spec.empty()) throw InvalidArgument("empty (use \"raw\" for no compression)");
    for (const std::string& part : Split(spec, '+')) codecs.push_back(ParsePart(part));
    CheckOrder(codecs);
    if (dtype) ResolveCodecSpec(codecs, Zarr2DType{*dtype, false});
  } catch (const Error& e) {
    throw Error(e.code() == ErrorCode::kUnsupported ? e.code() : ErrorCode::kInvalidArgument,
                "codec spec \"" + spec + "\": " + e.what());
  }
  return codecs;
}

json ResolveCodecSpec(const json& codecs, Zarr2DType type) {
  if (!codecs.is_array()) throw InvalidArgument("codecs must be a list, got " + codecs.dump());
  CheckOrder(codecs);
  json out = json::array();
  bool count_changed = false;  // by a filter (packbits): no further filter can follow it
  for (size_t i = 0; i < codecs.size(); ++i) {
    const json& c = codecs[i];
    const std::string name = NameOf(c);
    json config = c.is_object() ? c.value("configuration", json::object()) : json::object();
    const std::string what = "codecs[" + std::to_string(i) + "] " + name;
    if (KindOfCodec(name) != CodecKind::kArrayToArray || name.rfind("numcodecs.", 0) != 0) {
      if (LeftToArray(name, config)) {
        config[ElementSizeFields().at(name)] = ByteSize(type.dtype);
        out.push_back(MakeBytesCodec(name, config)->ToJson());
      } else {
        out.push_back(c);
      }
      continue;
    }
    if (count_changed) {
      throw InvalidArgument(what + " follows a filter that changes the element count");
    }
    json resolved;
    count_changed = ChangesCount(*ResolveFilter(name, config, type, what, resolved));
    out.push_back(std::move(resolved));
  }
  return out;
}

json ChainAroundBytes(const json& resolved, const std::string& endian) {
  json chain = json::array();
  auto add = [&](bool array_codecs) {
    for (const json& c : resolved) {
      if ((KindOfCodec(NameOf(c)) == CodecKind::kArrayToArray) == array_codecs) chain.push_back(c);
    }
  };
  add(true);
  chain.push_back({{"name", "bytes"}, {"configuration", {{"endian", endian}}}});
  add(false);
  return chain;
}

}  // namespace volbatch
