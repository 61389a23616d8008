#include "volbatch/store/zarr2_codecs.h"

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"
#include "volbatch/store/zarr2_gzip.h"

namespace volbatch {
namespace {

using nlohmann::json;

// numcodecs treats an absent or null setting as its default.
int64_t IntField(const json& config, const char* key, int64_t dflt, const std::string& what) {
  if (!config.contains(key) || config[key].is_null()) return dflt;
  const json& v = config[key];
  if (!v.is_number_integer()) {
    throw InvalidArgument(what + ": \"" + key + "\" must be an integer, got " + v.dump());
  }
  return v.get<int64_t>();
}

std::string StringField(const json& config, const char* key, const std::string& dflt,
                        const std::string& what) {
  if (!config.contains(key) || config[key].is_null()) return dflt;
  if (!config[key].is_string()) {
    throw InvalidArgument(what + ": \"" + key + "\" must be a string, got " + config[key].dump());
  }
  return config[key].get<std::string>();
}

json V3(const std::string& name, json configuration) {
  return {{"name", name}, {"configuration", std::move(configuration)}};
}

constexpr const char* kKnown =
    "gzip, zlib, zstd, blosc, bz2, lzma (XZ), lz4, crc32c, shuffle, crc32, adler32, fletcher32";

// numcodecs ids whose codec volbatch registers as "numcodecs.<id>" (configuration as is).
bool IsNumcodecsNamed(const std::string& id) {
  return id == "shuffle" || id == "crc32" || id == "adler32" || id == "fletcher32";
}

// numcodecs' LZMA "format" values (Python's lzma module constants).
constexpr int64_t kLzmaFormatXz = 1;
constexpr int64_t kDefaultXzPreset = 6;
constexpr int64_t kLzmaExtreme = int64_t{1} << 31;

}  // namespace

bool IsNumcodecsBytesCodec(const std::string& id) {
  return id == "gzip" || id == "zlib" || id == "zstd" || id == "blosc" || id == "bz2" ||
         id == "lzma" || id == "lz4" || id == "crc32c" || IsNumcodecsNamed(id);
}

json NumcodecsToV3(const json& config, size_t typesize, const std::string& what) {
  if (!config.is_object() || !config.contains("id") || !config["id"].is_string()) {
    throw InvalidArgument(what + " must be null or an object with a string \"id\"");
  }
  const std::string id = config["id"].get<std::string>();
  if (IsNumcodecsNamed(id)) {
    json c = config;
    c.erase("id");
    return V3("numcodecs." + id, c);
  }
  if (id == "gzip" || id == "zlib" || id == "bz2") {
    return V3(id, {{"level", IntField(config, "level", 1, what)}});
  }
  if (id == "zstd") {
    json c = {{"level", IntField(config, "level", 1, what)}};
    if (config.contains("checksum") && !config["checksum"].is_null()) {
      if (!config["checksum"].is_boolean()) {
        throw InvalidArgument(what + ": \"checksum\" must be true or false");
      }
      c["checksum"] = config["checksum"];
    }
    return V3("zstd", c);
  }
  if (id == "blosc") {
    const int64_t shuffle = IntField(config, "shuffle", 1, what);
    std::string s;
    switch (shuffle) {
      case 0:
        s = "noshuffle";
        break;
      case 1:
        s = "shuffle";
        break;
      case 2:
        s = "bitshuffle";
        break;
      case -1:
        s = typesize == 1 ? "bitshuffle" : "shuffle";
        break;
      default:
        throw InvalidArgument(what + ": blosc \"shuffle\" must be -1, 0, 1 or 2, got " +
                              std::to_string(shuffle));
    }
    return V3("blosc", {{"cname", StringField(config, "cname", "lz4", what)},
                        {"clevel", IntField(config, "clevel", 5, what)},
                        {"shuffle", s},
                        {"typesize", typesize},
                        {"blocksize", IntField(config, "blocksize", 0, what)}});
  }
  if (id == "lzma") {
    const int64_t format = IntField(config, "format", kLzmaFormatXz, what);
    if (format != kLzmaFormatXz) {
      throw Unsupported(what + ": lzma \"format\" " + std::to_string(format) +
                        " is not supported (only 1, the XZ container)");
    }
    // An XZ stream names its own filter chain and check, so "filters" and "check" only matter
    // when compressing; the preset is kept for writing, less Python's PRESET_EXTREME flag.
    const int64_t preset = IntField(config, "preset", kDefaultXzPreset, what) & ~kLzmaExtreme;
    return V3("xz", {{"level", preset}});
  }
  if (id == "lz4") {
    return V3("lz4", {{"acceleration", IntField(config, "acceleration", 1, what)}});
  }
  if (id == "crc32c") {
    const std::string location = StringField(config, "location", "end", what);
    if (location != "end") {
      throw Unsupported(what + ": crc32c with the checksum at the \"" + location +
                        "\" is not supported (only \"end\")");
    }
    return V3("crc32c", json::object());
  }
  throw Unsupported(what + ": compressor \"" + id + "\" is not supported (volbatch reads " +
                    kKnown + ")");
}

json V3ToNumcodecs(const json& codec, const std::string& what) {
  std::string name;
  json config = json::object();
  if (codec.is_string()) {
    name = codec.get<std::string>();
  } else if (codec.is_object() && codec.contains("name") && codec["name"].is_string()) {
    name = codec["name"].get<std::string>();
    if (codec.contains("configuration")) config = codec["configuration"];
  } else {
    throw InvalidArgument(what + " must be an object with a string \"name\"");
  }
  if (KindOfCodec(name) != CodecKind::kBytesToBytes) {
    throw InvalidArgument(what + ": codec \"" + name +
                          "\" cannot be written as a Zarr v2 compressor (Zarr v2 takes " + kKnown +
                          ")");
  }
  // The codec's own ToJson spells out its defaults, so the numcodecs side sees the exact
  // settings volbatch compresses with.
  json full;
  try {
    full = MakeBytesCodec(name, config)->ToJson();
  } catch (const Error& e) {
    throw WithContext(e, what);
  }
  const json c = full.value("configuration", json::object());
  const std::string field = what + " (" + name + ")";
  if (name.rfind("numcodecs.", 0) == 0) {  // numcodecs' own configuration, with its id
    json j = c;
    j["id"] = name.substr(10);
    return j;
  }
  if (name == "gzip" || name == "zlib" || name == "bz2") {
    return {{"id", name}, {"level", IntField(c, "level", 1, field)}};
  }
  if (name == "zstd") {
    json j = {{"id", "zstd"}, {"level", IntField(c, "level", 1, field)}};
    // numcodecs before 0.12 rejects an unknown "checksum" argument; write it only when on.
    if (c.value("checksum", false)) j["checksum"] = true;
    return j;
  }
  if (name == "blosc") {
    const std::string s = StringField(c, "shuffle", "shuffle", field);
    int shuffle = 1;
    if (s == "noshuffle") {
      shuffle = 0;
    } else if (s == "bitshuffle") {
      shuffle = 2;
    } else if (s != "shuffle") {
      throw InvalidArgument(field + ": unknown blosc shuffle \"" + s + "\"");
    }
    return {{"id", "blosc"},
            {"cname", StringField(c, "cname", "lz4", field)},
            {"clevel", IntField(c, "clevel", 5, field)},
            {"shuffle", shuffle},
            {"blocksize", IntField(c, "blocksize", 0, field)}};
  }
  if (name == "xz") {
    return {{"id", "lzma"},
            {"format", kLzmaFormatXz},
            {"check", -1},
            {"preset", IntField(c, "level", kDefaultXzPreset, field)},
            {"filters", nullptr}};
  }
  if (name == "lz4")
    return {{"id", "lz4"}, {"acceleration", IntField(c, "acceleration", 1, field)}};
  if (name == "crc32c") return {{"id", "crc32c"}};
  throw InvalidArgument(what + ": codec \"" + name +
                        "\" cannot be written as a Zarr v2 compressor (Zarr v2 takes " + kKnown +
                        ")");
}

std::shared_ptr<const BytesCodec> MakeNumcodecsCodec(const json& config, size_t typesize,
                                                     const std::string& what) {
  const json v3 = NumcodecsToV3(config, typesize, what);
  try {
    auto codec = MakeBytesCodec(v3["name"].get<std::string>(), v3["configuration"]);
    // z5py wrote zlib streams as "gzip"; the numcodecs readers take both.
    if (v3["name"] == "gzip") return MakeZarr2GzipCodec(std::move(codec));
    return codec;
  } catch (const Error& e) {
    throw WithContext(e, what);
  }
}

}  // namespace volbatch
