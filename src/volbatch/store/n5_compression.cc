#include "volbatch/store/n5_compression.h"

#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;

int64_t IntField(const json& obj, const char* key, int64_t def, int64_t lo, int64_t hi,
                 const std::string& what) {
  if (!obj.contains(key)) return def;
  const json& v = obj[key];
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
    throw InvalidArgument(what + "." + key + " must be an integer, got " + v.dump());
  }
  const int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) {
    throw InvalidArgument(what + "." + key + " must be in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(i));
  }
  return i;
}

bool BoolField(const json& obj, const char* key, bool def, const std::string& what) {
  if (!obj.contains(key)) return def;
  if (!obj[key].is_boolean()) {
    throw InvalidArgument(what + "." + key + " must be true or false, got " + obj[key].dump());
  }
  return obj[key].get<bool>();
}

std::string StringField(const json& obj, const char* key, const std::string& def,
                        const std::string& what) {
  if (!obj.contains(key)) return def;
  if (!obj[key].is_string()) {
    throw InvalidArgument(what + "." + key + " must be a string, got " + obj[key].dump());
  }
  return obj[key].get<std::string>();
}

const char* kShuffleNames[] = {"noshuffle", "shuffle", "bitshuffle"};

// Defaults are those of the N5 Java implementation (n5, n5-blosc, n5-zstandard).
N5Compression FromObject(const json& c, DataType dtype, const std::string& what) {
  if (!c.is_object()) throw InvalidArgument(what + " must be an object, got " + c.dump());
  const std::string type = StringField(c, "type", "", what);
  if (type.empty()) throw InvalidArgument(what + ".type is missing");
  if (type == "raw") return {};
  if (type == "gzip") {
    // -1 is zlib's "default", which is level 6.
    int64_t level = IntField(c, "level", -1, -1, 9, what);
    if (level < 0) level = 6;
    const bool zlib = BoolField(c, "useZlib", false, what);
    return {zlib ? "zlib" : "gzip", {{"level", level}}};
  }
  if (type == "bzip2") {
    return {"bz2", {{"level", IntField(c, "blockSize", 9, 1, 9, what)}}};
  }
  if (type == "xz") return {"xz", {{"level", IntField(c, "preset", 6, 0, 9, what)}}};
  if (type == "lz4") {
    // zarr-python's N5Store does not translate LZ4: it stores numcodecs' configuration
    // ({"id": "lz4", "acceleration": 1}) and numcodecs' framing, which N5 Java cannot read.
    if (c.contains("id")) {
      return {"lz4", {{"acceleration", IntField(c, "acceleration", 1, 1, INT32_MAX, what)}}};
    }
    return {"n5_lz4", {{"blockSize", IntField(c, "blockSize", 65536, 64, 1 << 30, what)}}};
  }
  if (type == "zstd") {
    return {"zstd",
            {{"level", IntField(c, "level", 3, -131072, 22, what)},
             {"checksum", BoolField(c, "useChecksums", false, what)}}};
  }
  if (type == "blosc") {
    return {"blosc",
            {{"cname", StringField(c, "cname", "blosclz", what)},
             {"clevel", IntField(c, "clevel", 6, 0, 9, what)},
             {"shuffle", kShuffleNames[IntField(c, "shuffle", 1, 0, 2, what)]},
             {"typesize", ByteSize(dtype)},
             {"blocksize", IntField(c, "blocksize", 0, 0, INT32_MAX, what)}}};
  }
  throw Unsupported(what + ".type \"" + type +
                    "\" is not supported (raw, gzip, bzip2, xz, lz4, zstd, blosc)");
}

}  // namespace

N5Compression ParseN5Compression(const json& attributes, DataType dtype, const std::string& what) {
  if (attributes.contains("compression")) {
    return FromObject(attributes["compression"], dtype, what + ": compression");
  }
  if (attributes.contains("compressionType")) {
    // N5 before 1.0: a bare name, with every parameter at its default.
    const json& t = attributes["compressionType"];
    if (!t.is_string()) {
      throw InvalidArgument(what + ": compressionType must be a string, got " + t.dump());
    }
    return FromObject({{"type", t}}, dtype, what + ": compressionType");
  }
  return {};
}

json N5CompressionFromCodecs(const json& codecs) {
  if (codecs.is_null()) return {{"type", "raw"}};
  if (!codecs.is_array()) throw InvalidArgument("codecs must be a list, got " + codecs.dump());
  if (codecs.empty()) return {{"type", "raw"}};
  auto name_of = [](const json& c) -> std::string {
    if (c.is_string()) return c.get<std::string>();
    if (c.is_object() && c.contains("name") && c["name"].is_string()) return c["name"];
    throw InvalidArgument("codec " + c.dump() + " must be an object with a string \"name\"");
  };
  if (codecs.size() > 1) {
    std::string names;
    for (const auto& c : codecs) names += (names.empty() ? "" : ", ") + name_of(c);
    throw InvalidArgument("N5 stores one compression per dataset; got " +
                          std::to_string(codecs.size()) + " codecs (" + names + ")");
  }
  const json& c = codecs[0];
  const std::string name = name_of(c);
  json config = json::object();
  if (c.is_object() && c.contains("configuration")) config = c["configuration"];
  if (!config.is_object()) {
    throw InvalidArgument("codec \"" + name + "\": configuration must be an object");
  }
  const std::string what = "codec \"" + name + "\" configuration";
  if (name == "gzip" || name == "zlib") {
    return {{"type", "gzip"},
            {"level", IntField(config, "level", 6, 0, 9, what)},
            {"useZlib", name == "zlib"}};
  }
  if (name == "bz2")
    return {{"type", "bzip2"}, {"blockSize", IntField(config, "level", 9, 1, 9, what)}};
  if (name == "xz") {
    const int64_t level = IntField(config, "level", 6, 0, 9, what);
    return {{"type", "xz"}, {"preset", IntField(config, "preset", level, 0, 9, what)}};
  }
  if (name == "lz4" || name == "n5_lz4") {
    // N5 has one LZ4 framing (LZ4Block); a numcodecs "lz4" request means LZ4 compression.
    return {{"type", "lz4"},
            {"blockSize", IntField(config, "blockSize", 65536, 64, 1 << 30, what)}};
  }
  if (name == "zstd") {
    return {{"type", "zstd"}, {"level", IntField(config, "level", 3, -131072, 22, what)}};
  }
  if (name == "blosc") {
    int64_t shuffle = 1;
    if (config.contains("shuffle") && config["shuffle"].is_string()) {
      const std::string s = config["shuffle"];
      shuffle = -1;
      for (int i = 0; i < 3; ++i) {
        if (s == kShuffleNames[i]) shuffle = i;
      }
      if (shuffle < 0) {
        throw InvalidArgument(what + ".shuffle must be noshuffle, shuffle or bitshuffle, got \"" +
                              s + "\"");
      }
    } else {
      shuffle = IntField(config, "shuffle", 1, 0, 2, what);
    }
    return {{"type", "blosc"},
            {"cname", StringField(config, "cname", "lz4", what)},
            {"clevel", IntField(config, "clevel", 5, 0, 9, what)},
            {"shuffle", shuffle},
            {"blocksize", IntField(config, "blocksize", 0, 0, INT32_MAX, what)},
            {"nthreads", 1}};
  }
  throw InvalidArgument("codec \"" + name +
                        "\" has no N5 equivalent (N5 compressions: raw, gzip, zlib, bz2, xz, lz4, "
                        "zstd, blosc)");
}

std::shared_ptr<const BytesCodec> MakeN5Codec(const N5Compression& c, const std::string& what) {
  if (c.codec.empty()) return nullptr;
  try {
    return MakeBytesCodec(c.codec, c.configuration);
  } catch (const Error& e) {
    throw WithContext(e, what);
  }
}

}  // namespace volbatch
