// numcodecs' filters as Zarr v3 array->array codecs, "numcodecs.<id>" with the numcodecs
// configuration (without "id"), as zarr-python 3 writes them. zarr-python 3 hands the filter
// the chunk in native byte order and the filter reinterprets its bytes as its own dtype (as in
// Zarr v2); its output, flattened, goes to the next codec. So the encoded chunk keeps the shape
// unless the filter changes the element count (packbits: a 1-D uint8 array).
// No bytes of its own; the cost is the filter's (one pass over the chunk).
#include "volbatch/codec/codec.h"
#include "volbatch/codec/numcodecs_filter_util.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch::codec_internal {
namespace {

using nlohmann::json;

Zarr2DType Native(DataType t) { return Zarr2DType{t, false}; }

class NumcodecsArrayCodec : public ArrayCodec {
 public:
  NumcodecsArrayCodec(std::string id, NumcodecsFilterFactory factory, json configuration)
      : name_("numcodecs." + id), factory_(std::move(factory)), config_(std::move(configuration)) {
    Build(std::nullopt);  // checks the configuration now
  }

  json ToJson() const override { return {{"name", name_}, {"configuration", config_}}; }

  ChunkSpec EncodedSpec(const ChunkSpec& decoded) const override {
    const auto f = Build(decoded.dtype);
    ChunkSpec s = decoded;
    s.dtype = f->encoded_type().dtype;
    const size_t n = static_cast<size_t>(NumElements(decoded.shape, "chunk shape"));
    const size_t size = ByteSize(s.dtype);
    if (f->EncodedBytes(n) != n * size) s.shape = {static_cast<Index>(f->EncodedBytes(n) / size)};
    s.fill_value = Bytes(size, std::byte{0});
    return s;
  }

  Array Encode(const Array& decoded) const override {
    const ChunkSpec spec{decoded.dtype(), decoded.shape(), {}};
    const ChunkSpec enc = EncodedSpec(spec);
    Bytes out = Build(decoded.dtype())
                    ->Encode(decoded.bytes(), static_cast<size_t>(decoded.num_elements()));
    return Array::FromBytes(enc.dtype, enc.shape, std::move(out));
  }

  Array Decode(const Array& encoded, const ChunkSpec& decoded_spec) const override {
    const auto f = Build(decoded_spec.dtype);
    const size_t n = static_cast<size_t>(NumElements(decoded_spec.shape, "chunk shape"));
    Bytes out = f->Decode(encoded.bytes(), n);
    return Array::FromBytes(decoded_spec.dtype, decoded_spec.shape, std::move(out));
  }

 private:
  // The filter for chunks of `dtype`: it must take elements of that size, in native order.
  std::shared_ptr<const Zarr2Filter> Build(std::optional<DataType> dtype) const {
    auto f =
        factory_(config_, name_, dtype ? std::optional<Zarr2DType>(Native(*dtype)) : std::nullopt);
    if (f->decoded_type().big_endian || f->encoded_type().big_endian) {
      throw Unsupported(name_ + ": big-endian filter types are not supported in Zarr v3 (the " +
                        "chunk is in native byte order)");
    }
    if (dtype && ByteSize(f->decoded_type().dtype) != ByteSize(*dtype)) {
      throw InvalidArgument(name_ + " decodes to " + Zarr2DTypeString(f->decoded_type()) +
                            ", whose element size differs from the chunk's " +
                            std::string(DataTypeName(*dtype)));
    }
    return f;
  }

  std::string name_;
  NumcodecsFilterFactory factory_;
  json config_;
};

}  // namespace

std::shared_ptr<const ArrayCodec> MakeNumcodecsArrayCodec(const std::string& id,
                                                          NumcodecsFilterFactory factory,
                                                          const json& configuration) {
  json config = configuration.is_null() ? json::object() : configuration;
  if (!config.is_object()) {
    throw InvalidArgument("numcodecs." + id + ".configuration must be an object, got " +
                          config.dump());
  }
  return std::make_shared<NumcodecsArrayCodec>(id, std::move(factory), std::move(config));
}

}  // namespace volbatch::codec_internal
