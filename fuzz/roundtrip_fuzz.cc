// libFuzzer target: encode -> decode through a codec chain the input chooses must give the
// chunk back bit for bit (every Zarr v3 codec volbatch has is lossless), through both decode
// paths of the chain (from a view, and from bytes given up).
//
// Input: [dtype][rank][dims x rank][transpose][array->bytes][inner divisors][bytes codecs]
// [fill byte][element bytes...]. The chain is built as the JSON a zarr.json would hold and
// parsed by CodecChain::FromJson, so a chain the input asks for that the registry refuses is a
// rejection; an Error from encoding or decoding with an accepted chain is a finding. The element
// bytes are repeated to fill the chunk; with the fill byte some of them equal the fill value so
// sharding's empty inner chunks occur.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "volbatch/codec/codec.h"

namespace volbatch::fuzz {
namespace {

using nlohmann::json;

constexpr int kNumDataTypes = 12;

const std::vector<json>& BytesCodecMenu() {
  static const auto* menu = new std::vector<json>{
      {{"name", "gzip"}, {"configuration", {{"level", 1}}}},
      {{"name", "zlib"}, {"configuration", {{"level", 0}}}},
      {{"name", "zstd"}, {"configuration", {{"level", 1}, {"checksum", true}}}},
      {{"name", "zstd"}, {"configuration", {{"level", -3}}}},
      {{"name", "lz4"}, {"configuration", {{"acceleration", 1}}}},
      {{"name", "n5_lz4"}, {"configuration", {{"blockSize", 64}}}},
      {{"name", "blosc"},
       {"configuration", {{"cname", "lz4"}, {"clevel", 5}, {"shuffle", "shuffle"}}}},
      {{"name", "blosc"},
       {"configuration",
        {{"cname", "zstd"}, {"clevel", 1}, {"shuffle", "bitshuffle"}, {"blocksize", 256}}}},
      {{"name", "blosc"},
       {"configuration", {{"cname", "blosclz"}, {"clevel", 9}, {"shuffle", "noshuffle"}}}},
      {{"name", "crc32c"}},
      // Slow to set up (about 3 and 7 ms per chunk under ASan against 0.3 ms for the rest), so
      // chosen rarely: see MenuEntry. Their decode targets fuzz them on their own.
      {{"name", "bz2"}, {"configuration", {{"level", 1}}}},
      {{"name", "xz"}, {"configuration", {{"level", 0}}}},
  };
  return *menu;
}

constexpr size_t kSlowCodecs = 2;  // the last entries of the menu

const json& MenuEntry(uint8_t selector, bool slow_allowed) {
  const auto& menu = BytesCodecMenu();
  const size_t fast = menu.size() - kSlowCodecs;
  if (slow_allowed && selector >= 256 - kSlowCodecs) return menu[fast + (255 - selector)];
  return menu[selector % fast];
}

json Permutation(InputReader& in, size_t rank) {
  std::vector<size_t> perm(rank);
  for (size_t i = 0; i < rank; ++i) perm[i] = i;
  for (size_t i = rank; i > 1; --i) std::swap(perm[i - 1], perm[in.Byte() % i]);
  return perm;
}

json BytesCodecs(InputReader& in, size_t max_count, bool slow_allowed = true) {
  json list = json::array();
  const size_t count = in.Byte() % (max_count + 1);
  for (size_t i = 0; i < count; ++i) list.push_back(MenuEntry(in.Byte(), slow_allowed));
  return list;
}

json Endian(InputReader& in) {
  return {{"name", "bytes"}, {"configuration", {{"endian", in.Byte() & 1 ? "big" : "little"}}}};
}

void RoundTrip(InputReader& in) {
  const auto dtype = static_cast<DataType>(in.Byte() % kNumDataTypes);
  const size_t rank = 1 + in.Byte() % 3;
  Shape shape(rank);
  for (size_t i = 0; i < rank; ++i) shape[i] = 1 + in.Byte() % 16;

  json codecs = json::array();
  if (in.Byte() & 1)
    codecs.push_back(
        {{"name", "transpose"}, {"configuration", {{"order", Permutation(in, rank)}}}});
  if (in.Byte() % 3 == 0) {
    // Sharding: the inner chunk shape divides the (possibly transposed) shard shape; it has
    // its own chain, which may nest a transpose.
    Shape shard = shape;
    if (!codecs.empty()) {
      const std::vector<size_t> perm = codecs[0]["configuration"]["order"];
      for (size_t i = 0; i < rank; ++i) shard[i] = shape[perm[i]];
    }
    Shape inner(rank);
    for (size_t i = 0; i < rank; ++i) {
      std::vector<Index> divisors;
      // At most 4 inner chunks per axis: each costs a codec setup, and thousands of them
      // (1-element chunks) would make one input take seconds without testing anything new.
      for (Index d = 1; d <= shard[i]; ++d) {
        if (shard[i] % d == 0 && shard[i] / d <= 4) divisors.push_back(d);
      }
      inner[i] = divisors[in.Byte() % divisors.size()];
    }
    json inner_codecs = json::array();
    if (in.Byte() & 1) {
      inner_codecs.push_back(
          {{"name", "transpose"}, {"configuration", {{"order", Permutation(in, rank)}}}});
    }
    inner_codecs.push_back(Endian(in));
    for (const json& c : BytesCodecs(in, 2, /*slow_allowed=*/false)) inner_codecs.push_back(c);
    json index_codecs = json::array({Endian(in)});
    if (in.Byte() & 1) index_codecs.push_back({{"name", "crc32c"}});
    codecs.push_back({{"name", "sharding_indexed"},
                      {"configuration",
                       {{"chunk_shape", inner},
                        {"codecs", inner_codecs},
                        {"index_codecs", index_codecs},
                        {"index_location", in.Byte() & 1 ? "start" : "end"}}}});
  } else {
    codecs.push_back(Endian(in));
  }
  for (const json& c : BytesCodecs(in, 3)) codecs.push_back(c);
  std::optional<CodecChain> chain;
  RejectOnError([&] { chain = CodecChain::FromJson(codecs, "fuzz chain"); });
  if (!chain) return;

  const size_t es = ByteSize(dtype);
  const uint8_t fill_byte = in.Byte();
  ChunkSpec spec{dtype, shape, Bytes(es, std::byte{fill_byte})};
  if (dtype == DataType::kBool) spec.fill_value[0] = std::byte(fill_byte & 1);
  const ByteView values = in.Rest();
  Array chunk(dtype, shape);
  std::byte* p = chunk.data();
  for (size_t i = 0; i < chunk.num_bytes(); ++i) {
    // Element bytes repeat the input; a zero byte stands for the fill value's byte.
    std::byte b = values.empty() ? std::byte{0} : values[i % values.size()];
    if (b == std::byte{0}) b = spec.fill_value[i % es];
    if (dtype == DataType::kBool) b &= std::byte{1};
    p[i] = b;
  }

  // The chain was accepted and the chunk is valid: from here on an Error is a finding too.
  try {
    const Bytes encoded = chain->Encode(chunk, spec);
    const Array decoded = chain->Decode(encoded, spec);
    if (!(decoded == chunk)) Fail("decode(encode(x)) != x for chain " + codecs.dump());
    const Array decoded_owned = chain->DecodeOwned(Bytes(encoded), spec);
    if (!(decoded_owned == chunk)) Fail("DecodeOwned(encode(x)) != x for chain " + codecs.dump());
  } catch (const Error& e) {
    Fail("chain " + codecs.dump() + " failed on a valid chunk: " + e.what());
  }
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volbatch::fuzz::InputReader in(data, size);
  volbatch::fuzz::RoundTrip(in);
  return 0;
}
