// The Zarr v3 "transpose" array->array codec: encoded axis i is decoded axis order[i].
// No bytes of its own: it only changes the element order the next codecs see.
// Cost: one strided element-by-element copy of the chunk each way (a plain copy for the
// identity order).
#include <algorithm>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

class TransposeCodec : public ArrayCodec {
 public:
  explicit TransposeCodec(std::vector<size_t> order) : order_(std::move(order)) {
    inverse_.resize(order_.size());
    identity_ = true;
    for (size_t i = 0; i < order_.size(); ++i) {
      inverse_[order_[i]] = i;
      identity_ = identity_ && order_[i] == i;
    }
  }

  nlohmann::json ToJson() const override {
    return {{"name", "transpose"}, {"configuration", {{"order", order_}}}};
  }

  ChunkSpec EncodedSpec(const ChunkSpec& decoded) const override {
    CheckRank(decoded.shape.size());
    ChunkSpec s = decoded;
    for (size_t i = 0; i < order_.size(); ++i) s.shape[i] = decoded.shape[order_[i]];
    return s;
  }

  Array Encode(const Array& decoded) const override {
    CheckRank(decoded.rank());
    return identity_ ? decoded : Transpose(decoded, order_);
  }

  Array Decode(const Array& encoded, const ChunkSpec& decoded_spec) const override {
    CheckRank(decoded_spec.shape.size());
    const ChunkSpec expect = EncodedSpec(decoded_spec);
    if (encoded.shape() != expect.shape || encoded.dtype() != decoded_spec.dtype) {
      throw DataLoss("transpose: encoded chunk has shape " + ShapeToString(encoded.shape()) +
                     ", expected " + ShapeToString(expect.shape));
    }
    return identity_ ? encoded : Transpose(encoded, inverse_);
  }

 private:
  void CheckRank(size_t rank) const {
    if (rank != order_.size()) {
      throw InvalidArgument("transpose.order has " + std::to_string(order_.size()) +
                            " axes but the chunk has rank " + std::to_string(rank));
    }
  }

  std::vector<size_t> order_;
  std::vector<size_t> inverse_;
  bool identity_;
};

}  // namespace

void RegisterTransposeCodec() {
  RegisterArrayCodec("transpose", [](const nlohmann::json& config) {
    codec_internal::ConfigReader r("transpose", config);
    const nlohmann::json& order = r.Raw("order");
    r.Finish();
    if (!order.is_array() || order.empty() || order.size() > kMaxRank) {
      throw InvalidArgument("transpose.order must be a list of 1 to " + std::to_string(kMaxRank) +
                            " axis indices, got " + order.dump());
    }
    std::vector<size_t> perm;
    std::vector<bool> seen(order.size(), false);
    for (const auto& v : order) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
          v.get<int64_t>() >= static_cast<int64_t>(order.size()) || seen[v.get<size_t>()]) {
        throw InvalidArgument("transpose.order must be a permutation of 0.." +
                              std::to_string(order.size() - 1) + ", got " + order.dump());
      }
      seen[v.get<size_t>()] = true;
      perm.push_back(v.get<size_t>());
    }
    return std::make_shared<TransposeCodec>(std::move(perm));
  });
}

}  // namespace volbatch
