// numcodecs' byte shuffle, "numcodecs.shuffle" in Zarr v3 ({"elementsize": 4} by default;
// zarr-python 3 sets it to the array's element size). In a Zarr v2 "filters" list it is the
// numcodecs id "shuffle".
//
// Byte layout: for n = size / elementsize elements, byte j of element i moves to j * n + i
// (all first bytes, then all second bytes, ...); elementsize <= 1 is a plain copy. A buffer
// that is not a whole number of elements is refused, as numcodecs refuses it.
// Cost: no framing; one strided copy each way.
#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

class ShuffleCodec : public BytesCodec {
 public:
  explicit ShuffleCodec(size_t elementsize) : elementsize_(elementsize) {}

  nlohmann::json ToJson() const override {
    return {{"name", "numcodecs.shuffle"}, {"configuration", {{"elementsize", elementsize_}}}};
  }

  Bytes Encode(ByteView decoded, const ChunkSpec&) const override {
    if (elementsize_ > 1 && decoded.size() % elementsize_ != 0) {
      throw InvalidArgument(Misfit(decoded.size()));
    }
    return Move(decoded, false);
  }

  Bytes Decode(ByteView encoded, size_t max_decoded, const ChunkSpec&) const override {
    if (encoded.size() > max_decoded) {
      throw DataLoss("numcodecs.shuffle: " + std::to_string(encoded.size()) +
                     " bytes are more than the " + std::to_string(max_decoded) +
                     " this chunk may hold");
    }
    if (elementsize_ > 1 && encoded.size() % elementsize_ != 0)
      throw DataLoss(Misfit(encoded.size()));
    return Move(encoded, true);
  }

  size_t MaxEncodedSize(size_t decoded_size) const override { return decoded_size; }

 private:
  std::string Misfit(size_t size) const {
    return "numcodecs.shuffle: " + std::to_string(size) + " bytes are not a whole number of " +
           std::to_string(elementsize_) + "-byte elements";
  }

  Bytes Move(ByteView in, bool unshuffle) const {
    Bytes out = CopyBytes(in);
    if (elementsize_ <= 1) return out;
    const size_t n = in.size() / elementsize_;
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < elementsize_; ++j) {
        const size_t element = i * elementsize_ + j, plane = j * n + i;
        if (unshuffle) {
          out[element] = in[plane];
        } else {
          out[plane] = in[element];
        }
      }
    }
    return out;
  }

  size_t elementsize_;
};

}  // namespace

void RegisterNumcodecsShuffleCodec() {
  RegisterBytesCodec("numcodecs.shuffle", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("numcodecs.shuffle", config);
    const int64_t elementsize = r.Int("elementsize", 4, 0, 1 << 20);
    r.Finish();
    return std::make_shared<ShuffleCodec>(static_cast<size_t>(elementsize));
  });
}

}  // namespace volbatch
