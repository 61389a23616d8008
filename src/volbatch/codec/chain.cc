#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"

namespace volbatch {

size_t ChunkSpec::num_bytes() const {
  return static_cast<size_t>(CheckedMul(NumElements(shape, "chunk shape"),
                                        static_cast<int64_t>(ByteSize(dtype)), "chunk bytes"));
}

CodecChain::CodecChain(std::vector<std::shared_ptr<const ArrayCodec>> array_codecs,
                       std::shared_ptr<const ArrayToBytesCodec> array_to_bytes,
                       std::vector<std::shared_ptr<const BytesCodec>> bytes_codecs)
    : array_codecs_(std::move(array_codecs)),
      array_to_bytes_(std::move(array_to_bytes)),
      bytes_codecs_(std::move(bytes_codecs)) {
  if (!array_to_bytes_) array_to_bytes_ = MakeArrayToBytesCodec("bytes", {{"endian", "little"}});
}

CodecChain CodecChain::FromJson(const nlohmann::json& codecs, const std::string& what) {
  if (!codecs.is_array()) throw InvalidArgument(what + ": \"codecs\" must be a list");
  std::vector<std::shared_ptr<const ArrayCodec>> aa;
  std::shared_ptr<const ArrayToBytesCodec> ab;
  std::vector<std::shared_ptr<const BytesCodec>> bb;
  for (size_t i = 0; i < codecs.size(); ++i) {
    const auto& c = codecs[i];
    const std::string field = what + ": codecs[" + std::to_string(i) + "]";
    std::string name;
    nlohmann::json config = nlohmann::json::object();
    if (c.is_string()) {
      name = c.get<std::string>();
    } else if (c.is_object() && c.contains("name") && c["name"].is_string()) {
      name = c["name"].get<std::string>();
      if (c.contains("configuration")) config = c["configuration"];
      if (!config.is_object()) throw InvalidArgument(field + ".configuration must be an object");
    } else {
      throw InvalidArgument(field + " must be an object with a string \"name\"");
    }
    try {
      switch (KindOfCodec(name)) {
        case CodecKind::kArrayToArray:
          if (ab)
            throw InvalidArgument("array->array codec \"" + name +
                                  "\" after the array->bytes codec");
          aa.push_back(MakeArrayCodec(name, config));
          break;
        case CodecKind::kArrayToBytes:
          if (ab) throw InvalidArgument("second array->bytes codec \"" + name + "\"");
          ab = MakeArrayToBytesCodec(name, config);
          break;
        case CodecKind::kBytesToBytes:
          if (!ab)
            throw InvalidArgument("bytes->bytes codec \"" + name +
                                  "\" before the array->bytes codec");
          bb.push_back(MakeBytesCodec(name, config));
          break;
        case CodecKind::kUnknown:
          MakeBytesCodec(name, config);  // throws the "unknown codec" error
      }
    } catch (const Error& e) {
      throw WithContext(e, field);
    }
  }
  if (!ab) throw InvalidArgument(what + ": \"codecs\" has no array->bytes codec (e.g. \"bytes\")");
  return CodecChain(std::move(aa), std::move(ab), std::move(bb));
}

nlohmann::json CodecChain::ToJson() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : array_codecs_) j.push_back(c->ToJson());
  j.push_back(array_to_bytes_->ToJson());
  for (const auto& c : bytes_codecs_) j.push_back(c->ToJson());
  return j;
}

Bytes CodecChain::Encode(const Array& chunk, const ChunkSpec& spec) const {
  // The chunk is only copied where a codec makes a new representation.
  const Array* a = &chunk;
  Array transformed;
  ChunkSpec s = spec;
  for (const auto& c : array_codecs_) {
    transformed = c->Encode(*a);
    a = &transformed;
    s = c->EncodedSpec(s);
  }
  size_t next = 0;
  Bytes b;
  if (std::optional<ByteView> view;
      !bytes_codecs_.empty() && (view = array_to_bytes_->EncodedView(*a, s))) {
    b = bytes_codecs_[next++]->Encode(*view, s);
  } else {
    b = array_to_bytes_->Encode(*a, s);
  }
  for (; next < bytes_codecs_.size(); ++next) b = bytes_codecs_[next]->Encode(b, s);
  return b;
}

Array CodecChain::DecodeOwned(Bytes&& encoded, const ChunkSpec& spec) const {
  if (!bytes_codecs_.empty()) return Decode(encoded, spec);
  std::vector<ChunkSpec> specs{spec};
  for (const auto& c : array_codecs_) specs.push_back(c->EncodedSpec(specs.back()));
  Array a = array_to_bytes_->DecodeOwned(std::move(encoded), specs.back());
  for (size_t i = array_codecs_.size(); i-- > 0;) a = array_codecs_[i]->Decode(a, specs[i]);
  return a;
}

Array CodecChain::Decode(ByteView encoded, const ChunkSpec& spec) const {
  std::vector<ChunkSpec> specs{spec};
  for (const auto& c : array_codecs_) specs.push_back(c->EncodedSpec(specs.back()));
  const ChunkSpec& inner = specs.back();
  // bounds[i]: the most bytes codec i can decode to, i.e. what the codecs before it can make
  // of the array->bytes output (e.g. a gzip stream under crc32c a little more than the raw
  // size; a stream under n5_lz4 with 64-byte blocks a third more).
  std::vector<size_t> bounds{array_to_bytes_->EncodedSizeBound(inner)};
  for (size_t i = 1; i < bytes_codecs_.size(); ++i) {
    bounds.push_back(bytes_codecs_[i - 1]->MaxEncodedSize(bounds.back()));
  }
  Bytes buf;
  ByteView cur = encoded;
  for (size_t i = bytes_codecs_.size(); i-- > 0;) {
    buf = bytes_codecs_[i]->Decode(cur, bounds[i], inner);
    cur = buf;
  }
  // A decompressor's output is ours to give to the array->bytes codec.
  Array a = bytes_codecs_.empty() ? array_to_bytes_->Decode(cur, inner)
                                  : array_to_bytes_->DecodeOwned(std::move(buf), inner);
  for (size_t i = array_codecs_.size(); i-- > 0;) a = array_codecs_[i]->Decode(a, specs[i]);
  return a;
}

bool CodecChain::DecodesRegions(const ChunkSpec& spec) const {
  return array_codecs_.empty() && bytes_codecs_.size() == 1 &&
         array_to_bytes_->DecodesAsIs(spec) && bytes_codecs_[0]->DecodesRanges();
}

std::optional<Array> CodecChain::DecodeRegion(ByteView encoded, const ChunkSpec& spec,
                                              const Box& region) const {
  if (!DecodesRegions(spec)) return std::nullopt;
  return DecodeRegionOfElements(*bytes_codecs_[0], encoded, spec, region);
}

std::optional<Array> DecodeRegionOfElements(const BytesCodec& codec, ByteView encoded,
                                            const ChunkSpec& spec, const Box& region) {
  const size_t rank = spec.shape.size();
  if (rank == 0 || region.rank() != rank || !Box::FromShape(spec.shape).Contains(region) ||
      region.empty()) {
    return std::nullopt;
  }
  // Whole slices of axis 0: the decoded slab is itself a C-order array.
  Shape slab_shape = spec.shape;
  slab_shape[0] = region.shape[0];
  const size_t chunk_bytes = spec.num_bytes();
  const size_t slice_bytes = chunk_bytes / static_cast<size_t>(spec.shape[0]);
  std::optional<Bytes> slab =
      codec.DecodeRange(encoded, static_cast<size_t>(region.begin[0]) * slice_bytes,
                        static_cast<size_t>(region.shape[0]) * slice_bytes, chunk_bytes, spec);
  if (!slab) return std::nullopt;
  Array a = Array::FromBytes(spec.dtype, slab_shape, std::move(*slab));
  Shape begin = region.begin;
  begin[0] = 0;
  const Box in_slab(begin, region.shape);
  if (in_slab == Box::FromShape(slab_shape)) return a;
  return a.Slice(in_slab);
}

}  // namespace volbatch
