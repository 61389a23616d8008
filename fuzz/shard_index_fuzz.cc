// libFuzzer target: the shard index of the sharding_indexed codec (ShardingCodec::DecodeIndex),
// which later reads are sliced by, so every entry it accepts must be safe to slice with.
//
// Input: [variant][rank][grid x rank][shard size, u16 LE][index bytes...]. The variant picks
// the index codecs (bytes little + crc32c, bytes little, bytes big + crc32c), the index
// location and whether the shard's size is known. Properties: one entry per inner chunk; an
// entry is empty or both fields are real; offset + nbytes does not overflow; with a known
// shard size the bytes lie in the shard's data part, clear of the index.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fuzz/fuzz_util.h"
#include "volbatch/codec/registry.h"
#include "volbatch/codec/sharding.h"

namespace volbatch::fuzz {
namespace {

using nlohmann::json;

std::shared_ptr<const ShardingCodec> Codec(size_t rank, size_t index_codecs, bool at_end) {
  static std::shared_ptr<const ShardingCodec> cache[4][3][2];
  auto& c = cache[rank][index_codecs][at_end];
  if (!c) {
    const json little = {{"name", "bytes"}, {"configuration", {{"endian", "little"}}}};
    const json big = {{"name", "bytes"}, {"configuration", {{"endian", "big"}}}};
    const json crc = {{"name", "crc32c"}};
    const json index[] = {{little, crc}, {little}, {big, crc}};
    const json config = {{"chunk_shape", Shape(rank, 2)},
                         {"codecs", json::array({little})},
                         {"index_codecs", index[index_codecs]},
                         {"index_location", at_end ? "end" : "start"}};
    c = std::dynamic_pointer_cast<const ShardingCodec>(
        MakeArrayToBytesCodec("sharding_indexed", config));
    if (!c) Fail("sharding_indexed is not a ShardingCodec");
  }
  return c;
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volbatch;
  using namespace volbatch::fuzz;
  InputReader in(data, size);
  const uint8_t variant = in.Byte();
  const size_t index_codecs = variant % 3;
  const bool at_end = (variant >> 2) & 1;
  const bool size_known = (variant >> 3) & 1;
  const size_t rank = 1 + in.Byte() % 3;
  Shape grid(rank), shard_shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    grid[i] = 1 + in.Byte() % 4;
    shard_shape[i] = 2 * grid[i];
  }
  const uint64_t extra = in.U16();
  const ByteView index = in.Rest();
  RejectOnError([&] {
    const auto codec = Codec(rank, index_codecs, at_end);
    const uint64_t index_size = codec->IndexSize(shard_shape);
    const std::optional<uint64_t> shard_size =
        size_known ? std::optional<uint64_t>(index_size + extra) : std::nullopt;
    const auto entries = codec->DecodeIndex(index, shard_shape, shard_size);
    size_t n = 1;
    for (Index g : grid) n *= static_cast<size_t>(g);
    Check(entries.size() == n, "shard index: entry count differs from the inner grid's");
    for (const ShardIndexEntry& e : entries) {
      if (e.empty()) continue;
      Check(e.offset != kShardEntryEmpty && e.nbytes != kShardEntryEmpty,
            "shard index: half-empty entry accepted");
      const uint64_t end = e.offset + e.nbytes;
      Check(end >= e.offset, "shard index: offset + nbytes overflows");
      if (!at_end) Check(e.offset >= index_size, "shard index: entry overlaps the index");
      if (shard_size) {
        const uint64_t data_end = at_end ? *shard_size - index_size : *shard_size;
        Check(end <= data_end, "shard index: entry past the shard's data");
      }
    }
  });
  return 0;
}
