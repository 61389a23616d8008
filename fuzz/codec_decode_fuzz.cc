// libFuzzer target: decoding hostile bytes with one codec, built once per codec (the name comes
// from kFuzzedCodec, defined in a one-line file fuzz/CMakeLists.txt writes for each target).
//
// Input: [dtype][config variant][element count, u16 LE][encoded bytes...]. The decoded chunk
// is a 1-D array of `count` elements of the dtype (the transpose and sharding targets derive
// their shapes as noted below). Properties beyond "no crash, no leak, only volbatch::Error":
//   bytes->bytes: the output never exceeds the bound the caller passed (max_decoded), and a
//                 range decoded alone (DecodeRange) equals the same bytes of the whole;
//   array->bytes: the decoded array has exactly the spec's dtype and shape;
//   transpose:    decoding is a bijection: encoding the decoded array gives the input back;
//   numcodecs.* array->array (filters): the decoded array has the spec's dtype and shape.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "volbatch/codec/codec.h"
#include "volbatch/codec/registry.h"

extern const char kFuzzedCodec[];

namespace volbatch::fuzz {
namespace {

using nlohmann::json;

constexpr int kNumDataTypes = 12;

// Configurations the input chooses among. Decoding mostly ignores them, except where the
// encoded form depends on them (endianness, sharding's layout).
std::vector<json> Configs(const std::string& codec) {
  if (codec == "gzip" || codec == "zlib") return {{{"level", 1}}};
  if (codec == "zstd") return {{{"level", 3}}, {{"level", 1}, {"checksum", true}}};
  if (codec == "lz4") return {{{"acceleration", 1}}};
  if (codec == "n5_lz4") return {{{"blockSize", 64}}, json::object()};
  if (codec == "bz2") return {{{"level", 1}}};
  if (codec == "xz") return {{{"level", 0}}};
  if (codec == "blosc") {
    return {{{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}},
            {{"cname", "zstd"}, {"clevel", 3}, {"shuffle", "bitshuffle"}},
            {{"cname", "blosclz"}, {"clevel", 1}, {"shuffle", "noshuffle"}}};
  }
  if (codec == "crc32c") return {json::object()};
  if (codec == "bytes") return {{{"endian", "little"}}, {{"endian", "big"}}};
  if (codec == "sharding_indexed") {
    const json index = json::array(
        {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}, {{"name", "crc32c"}}});
    const json plain_index = json::array({{{"name", "bytes"}}});
    const json raw = json::array({{{"name", "bytes"}}});
    const json gzip =
        json::array({{{"name", "bytes"}}, {{"name", "gzip"}, {"configuration", {{"level", 1}}}}});
    const json transposed =
        json::array({{{"name", "transpose"}, {"configuration", {{"order", {1, 0}}}}},
                     {{"name", "bytes"}, {"configuration", {{"endian", "big"}}}}});
    return {
        {{"chunk_shape", {4, 4}}, {"codecs", raw}, {"index_codecs", index}},
        {{"chunk_shape", {4, 4}},
         {"codecs", raw},
         {"index_codecs", index},
         {"index_location", "start"}},
        {{"chunk_shape", {2, 4}}, {"codecs", gzip}, {"index_codecs", plain_index}},
        {{"chunk_shape", {4, 2}}, {"codecs", transposed}, {"index_codecs", index}},
    };
  }
  if (codec == "numcodecs.delta") {
    return {{{"dtype", "<i4"}}, {{"dtype", "<i2"}, {"astype", "<i2"}}, {{"dtype", "|u1"}}};
  }
  if (codec == "numcodecs.astype") {
    return {{{"encode_dtype", "<f4"}, {"decode_dtype", "<f8"}},
            {{"encode_dtype", "|u1"}, {"decode_dtype", "<i4"}}};
  }
  if (codec == "numcodecs.bitround") return {{{"keepbits", 5}}, {{"keepbits", 0}}};
  if (codec == "numcodecs.fixedscaleoffset") {
    return {{{"offset", 1000}, {"scale", 10}, {"dtype", "<f8"}, {"astype", "<i2"}},
            {{"offset", 0.5}, {"scale", 3}, {"dtype", "<f4"}, {"astype", "<u1"}}};
  }
  if (codec == "numcodecs.quantize") return {{{"digits", 2}, {"dtype", "<f4"}}};
  // transpose: the order comes from the input; the other numcodecs.* take defaults
  return {json::object()};
}

struct Setup {
  std::string codec = kFuzzedCodec;
  CodecKind kind = KindOfCodec(codec);
  std::vector<json> configs = Configs(codec);
  std::vector<std::shared_ptr<const BytesCodec>> bytes_codecs;
  std::vector<std::shared_ptr<const ArrayToBytesCodec>> array_to_bytes_codecs;

  Setup() {
    for (const json& c : configs) {
      if (kind == CodecKind::kBytesToBytes) bytes_codecs.push_back(MakeBytesCodec(codec, c));
      if (kind == CodecKind::kArrayToBytes) {
        array_to_bytes_codecs.push_back(MakeArrayToBytesCodec(codec, c));
      }
    }
    if (kind == CodecKind::kUnknown) Fail(std::string("unknown codec ") + kFuzzedCodec);
  }
};

const Setup& GetSetup() {
  static const Setup* setup = new Setup();
  return *setup;
}

void FuzzBytesCodec(const Setup& s, InputReader& in, DataType dtype) {
  const auto& codec = s.bytes_codecs[in.Byte() % s.bytes_codecs.size()];
  const size_t count = in.U16();
  ChunkSpec spec{dtype, {static_cast<Index>(count)}, {}};
  const size_t max_decoded = spec.num_bytes();
  // A range decoded alone (blosc: only the blocks that hold it) is tried before the whole
  // decode, whose stricter checks might reject the stream first; where both succeed the
  // range must be the same bytes.
  const size_t elem = ByteSize(dtype);
  const size_t offset = count / 3 * elem, length = (count + 1) / 2 * elem;
  std::optional<Bytes> part;
  if (codec->DecodesRanges() && length > 0 && offset + length <= max_decoded) {
    try {
      part = codec->DecodeRange(in.Rest(), offset, length, max_decoded, spec);
    } catch (const Error&) {
    }
    if (part) Check(part->size() == length, s.codec + ": DecodeRange returned another length");
  }
  const Bytes out = codec->Decode(in.Rest(), max_decoded, spec);
  Check(out.size() <= max_decoded, s.codec + ": decoded " + std::to_string(out.size()) +
                                       " bytes, more than the bound " +
                                       std::to_string(max_decoded));
  if (part) {
    Check(out.size() >= offset + length &&
              std::memcmp(part->data(), out.data() + offset, length) == 0,
          s.codec + ": DecodeRange differs from the same bytes of Decode");
  }
}

void FuzzArrayToBytesCodec(const Setup& s, InputReader& in, DataType dtype) {
  const size_t variant = in.Byte() % s.array_to_bytes_codecs.size();
  const auto& codec = s.array_to_bytes_codecs[variant];
  ChunkSpec spec{dtype, {}, {}};
  if (s.codec == "sharding_indexed") {
    in.U16();
    spec.shape = {8, 8};  // 4 (or 8) inner chunks of the configured chunk_shape
    spec.fill_value = Bytes(ByteSize(dtype), std::byte{0x5a});
    if (dtype == DataType::kBool) spec.fill_value = Bytes(1, std::byte{1});
  } else {
    spec.shape = {static_cast<Index>(in.U16())};
  }
  const Array a = codec->Decode(in.Rest(), spec);
  Check(a.dtype() == spec.dtype && a.shape() == spec.shape,
        s.codec + ": decoded an array of another dtype or shape than the spec's");
}

void FuzzTranspose(const Setup& s, InputReader& in, DataType dtype) {
  (void)s;
  // [rank byte][order bytes x rank][dims x rank][element bytes...]; the order need not be a
  // permutation (the factory must refuse it then).
  const size_t rank = 1 + in.Byte() % 4;
  json order = json::array();
  for (size_t i = 0; i < rank; ++i) order.push_back(in.Byte() % (rank + 1));
  Shape shape;
  for (size_t i = 0; i < rank; ++i) shape.push_back(1 + in.Byte() % 8);
  const auto codec = MakeArrayCodec("transpose", {{"order", order}});
  const ChunkSpec decoded_spec{dtype, shape, {}};
  const ChunkSpec encoded_spec = codec->EncodedSpec(decoded_spec);
  Bytes bytes = ToBytes(in.Rest());
  bytes.resize(encoded_spec.num_bytes(), std::byte{0});
  const Array encoded = Array::FromBytes(dtype, encoded_spec.shape, std::move(bytes));
  const Array decoded = codec->Decode(encoded, decoded_spec);
  Check(decoded.shape() == shape, "transpose: decoded shape differs from the spec's");
  Check(codec->Encode(decoded) == encoded, "transpose: encode(decode(x)) != x");
}

// [variant][count u16][encoded elements...]: the encoded array of the spec the filter makes of
// `count` elements of the dtype (a wrong element size is refused as an Error).
void FuzzNumcodecsFilter(const Setup& s, InputReader& in, DataType dtype) {
  const json& config = s.configs[in.Byte() % s.configs.size()];
  const ChunkSpec decoded_spec{dtype, {static_cast<Index>(in.U16())}, {}};
  const auto codec = MakeArrayCodec(s.codec, config);
  const ChunkSpec encoded_spec = codec->EncodedSpec(decoded_spec);
  Bytes bytes = ToBytes(in.Rest());
  bytes.resize(encoded_spec.num_bytes(), std::byte{0});
  const Array encoded = Array::FromBytes(encoded_spec.dtype, encoded_spec.shape, std::move(bytes));
  const Array decoded = codec->Decode(encoded, decoded_spec);
  Check(decoded.dtype() == dtype && decoded.shape() == decoded_spec.shape,
        s.codec + ": decoded an array of another dtype or shape than the spec's");
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volbatch;
  using namespace volbatch::fuzz;
  const Setup& s = GetSetup();
  InputReader in(data, size);
  const auto dtype = static_cast<DataType>(in.Byte() % kNumDataTypes);
  RejectOnError([&] {
    switch (s.kind) {
      case CodecKind::kBytesToBytes:
        FuzzBytesCodec(s, in, dtype);
        break;
      case CodecKind::kArrayToBytes:
        FuzzArrayToBytesCodec(s, in, dtype);
        break;
      case CodecKind::kArrayToArray:
        if (s.codec == "transpose") {
          FuzzTranspose(s, in, dtype);
        } else {
          FuzzNumcodecsFilter(s, in, dtype);
        }
        break;
      case CodecKind::kUnknown:
        break;
    }
  });
  return 0;
}
