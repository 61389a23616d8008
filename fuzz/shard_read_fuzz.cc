// libFuzzer target: partial reads of a hostile Zarr v3 shard (Zarr3Driver::ReadUnitInto), which
// fetch the index by a ranged read and then only the inner chunks a region overlaps, so they
// slice the shard by the index's offsets. Differential property: when both the partial read and
// the whole-shard decode (DecodeUnit) succeed, the region read equals that region of the
// decoded shard.
//
// Input: [variant][region begin y, x][region size y, x][shard bytes...]. Arrays are 12 x 16
// uint16, shards 8 x 8 of inner chunks 4 x 4 (shard (1, 1) is at the volume's edge); variants
// put the index at the end or the start, with or without crc32c, with raw or gzip inner chunks.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/memory_store.h"
#include "volbatch/store/driver.h"

namespace volbatch::fuzz {
namespace {

using nlohmann::json;

constexpr size_t kVariants = 4;

std::shared_ptr<FormatDriver> Driver(size_t variant) {
  static std::shared_ptr<FormatDriver> drivers[kVariants];
  auto& d = drivers[variant];
  if (!d) {
    const json bytes = {{"name", "bytes"}, {"configuration", {{"endian", "little"}}}};
    json inner = json::array({bytes});
    if (variant & 1) inner.push_back({{"name", "gzip"}, {"configuration", {{"level", 1}}}});
    json index = json::array({bytes});
    if (!(variant & 2)) index.push_back({{"name", "crc32c"}});
    const json meta = {
        {"zarr_format", 3},
        {"node_type", "array"},
        {"shape", {12, 16}},
        {"data_type", "uint16"},
        {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {8, 8}}}}}},
        {"chunk_key_encoding", {{"name", "default"}}},
        {"fill_value", 7},
        {"codecs",
         {{{"name", "sharding_indexed"},
           {"configuration",
            {{"chunk_shape", {4, 4}},
             {"codecs", inner},
             {"index_codecs", index},
             {"index_location", variant & 2 ? "start" : "end"}}}}}}};
    auto kv = std::make_shared<MemoryStore>();
    kv->Set("zarr.json", ToBytes(meta.dump()));
    d = FindFormat("zarr3")->open(kv, "fuzz.zarr");
  }
  return d;
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volbatch;
  using namespace volbatch::fuzz;
  InputReader in(data, size);
  const uint8_t selector = in.Byte();
  const size_t variant = selector % kVariants;
  const Shape unit_index = {(selector >> 2) & 1, (selector >> 3) & 1};
  Box local;
  for (int i = 0; i < 2; ++i) local.begin.push_back(in.Byte() % 8);
  for (int i = 0; i < 2; ++i) local.shape.push_back(1 + in.Byte() % (8 - local.begin[i]));
  const ByteView shard = in.Rest();

  const auto driver = Driver(variant);
  MemoryStore kv;
  kv.Set(driver->UnitKey(unit_index), shard);
  const Bytes& fill = driver->layout().fill_value;

  std::optional<Array> region;
  RejectOnError([&] {
    Array out = Array::Filled(DataType::kUint16, local.shape, fill);
    Check(driver->ReadUnitInto(kv, unit_index, local, out, Shape{0, 0}),
          "ReadUnitInto: a stored shard reported absent");
    region = std::move(out);
  });
  std::optional<Array> whole;
  RejectOnError([&] { whole = driver->DecodeUnit(shard, unit_index); });
  if (region && whole) {
    Array expected(DataType::kUint16, local.shape);
    CopyRegion(*whole, local.begin, expected, Shape{0, 0}, local.shape);
    Check(expected == *region, "ReadUnitInto differs from the same region of DecodeUnit");
  }
  return 0;
}
