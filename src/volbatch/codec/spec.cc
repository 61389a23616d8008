// Codec spec strings of the command line and job file ("zstd:3", "blosc:lz4:5:shuffle",
// "zstd:3+crc32c", "raw") turned into Zarr v3 bytes->bytes codec JSON. Each codec is built
// through the registry, so the result is validated and has every default filled in.
#include <charconv>
#include <string_view>
#include <vector>

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

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

const char* const kKnown =
    "raw, gzip[:level], zlib[:level], zstd[:level], lz4[:acceleration], "
    "bz2[:level], xz[:level], blosc[:cname[:clevel[:shuffle]]], crc32c, or any registered "
    "bytes codec as Zarr v3 JSON ({\"name\": \"numcodecs.zlib\", \"configuration\": {...}})";

// A part written as Zarr v3 JSON: any registered bytes->bytes codec, e.g. numcodecs.zlib.
nlohmann::json ParseJsonPart(const std::string& part) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(part);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("\"" + part + "\" is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    throw InvalidArgument("\"" + part + "\" must be an object with a string \"name\"");
  }
  const std::string name = j["name"].get<std::string>();
  if (KindOfCodec(name) != CodecKind::kBytesToBytes) {
    throw InvalidArgument("\"" + name + "\" is not a bytes->bytes codec (known: " + kKnown + ")");
  }
  return MakeBytesCodec(name, j.value("configuration", nlohmann::json::object()))->ToJson();
}

// One "+"-separated part, e.g. "blosc:zstd:5:bitshuffle", as {name, configuration}.
nlohmann::json ParsePart(const std::string& part) {
  if (part.empty()) throw InvalidArgument("empty codec (a stray \"+\"?)");
  if (part[0] == '{') return ParseJsonPart(part);
  const std::vector<std::string> f = Split(part, ':');
  const std::string& name = f[0];
  const size_t nargs = f.size() - 1;
  auto max_args = [&](size_t n, const char* names) {
    if (nargs > n) {
      throw InvalidArgument("\"" + name + "\" takes " +
                            (n == 0 ? std::string("no parameters")
                                    : "at most " + std::to_string(n) + " (" + names + ")") +
                            ", got " + std::to_string(nargs));
    }
  };
  nlohmann::json config = nlohmann::json::object();
  if (name == "gzip" || name == "zlib" || name == "zstd" || name == "bz2" || name == "xz") {
    max_args(1, "level");
    if (nargs == 1) config["level"] = ParseInt(f[1], name + " level");
  } else if (name == "lz4") {
    max_args(1, "acceleration");
    if (nargs == 1) config["acceleration"] = ParseInt(f[1], "lz4 acceleration");
  } else if (name == "blosc") {
    max_args(3, "cname, clevel, shuffle");
    config = {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}};
    if (nargs >= 1) config["cname"] = f[1];
    if (nargs >= 2) config["clevel"] = ParseInt(f[2], "blosc clevel");
    if (nargs >= 3) config["shuffle"] = f[3];
  } else if (name == "crc32c") {
    max_args(0, "");
  } else if (name == "raw") {
    throw InvalidArgument("\"raw\" (no compression) cannot be combined with other codecs");
  } else {
    throw InvalidArgument("unknown codec \"" + name + "\" (known: " + kKnown + ")");
  }
  return MakeBytesCodec(name, config)->ToJson();
}

}  // namespace

nlohmann::json ParseCodecSpec(const std::string& spec) {
  nlohmann::json codecs = nlohmann::json::array();
  if (spec == "raw") return codecs;
  try {
    if (spec.empty()) throw InvalidArgument("empty (use \"raw\" for no compression)");
    for (const std::string& part : Split(spec, '+')) codecs.push_back(ParsePart(part));
  } catch (const Error& e) {
    throw Error(e.code() == ErrorCode::kUnsupported ? e.code() : ErrorCode::kInvalidArgument,
                "codec spec \"" + spec + "\": " + e.what());
  }
  return codecs;
}

}  // namespace volbatch
