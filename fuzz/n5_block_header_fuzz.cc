// libFuzzer target: the N5 block header (store/n5_block.h) on its own and then a whole N5 block
// decoded by the N5 driver, whose allocation the header's dims decide.
//
// Input: [rank][dtype][compression][unit][block bytes...]. Properties:
//   ParseN5BlockHeader: the header it reports has the array's rank, a known mode (0 or 1), a
//     count exactly in mode 1, and a size of 4 + 4 rank (+ 4) that lies inside the block;
//   N5 DecodeUnit: a block that decodes gives a unit of the blockSize shape and dtype.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "fuzz/fuzz_util.h"
#include "fuzz/memory_store.h"
#include "volbatch/store/driver.h"
#include "volbatch/store/n5_block.h"

namespace volbatch::fuzz {
namespace {

using nlohmann::json;

void CheckHeader(ByteView block, size_t rank) {
  const N5BlockHeader h = ParseN5BlockHeader(block, rank);
  Check(h.mode == 0 || h.mode == 1, "N5 header: mode " + std::to_string(h.mode) + " accepted");
  Check(h.dims.size() == rank, "N5 header: dims of another rank than the array's");
  Check(h.num_elements.has_value() == (h.mode == 1), "N5 header: count present iff mode 1");
  Check(h.size == 4 + 4 * rank + (h.mode == 1 ? 4 : 0), "N5 header: size disagrees with layout");
  Check(h.size <= block.size(), "N5 header: size past the end of the block");
  for (Index d : h.dims) Check(d >= 0 && d <= Index{UINT32_MAX}, "N5 header: dim out of range");
}

const char* const kDataTypes[] = {"uint8", "uint16", "uint32", "uint64",  "int8",
                                  "int16", "int32",  "int64",  "float32", "float64"};
const json kCompressions[] = {
    {{"type", "raw"}},
    {{"type", "gzip"}, {"level", 1}},
    {{"type", "gzip"}, {"level", 1}, {"useZlib", true}},
    {{"type", "lz4"}, {"blockSize", 65536}},
    {{"type", "zstd"}, {"level", 3}},
};

// One driver per (rank, dtype, compression): dimensions 10, 7, 5 with blocks of 4, so the
// last block along each axis is at the volume's edge.
std::shared_ptr<FormatDriver> Driver(size_t rank, size_t dtype, size_t compression) {
  static auto* drivers =
      new std::map<std::tuple<size_t, size_t, size_t>, std::shared_ptr<FormatDriver>>();
  auto& d = (*drivers)[{rank, dtype, compression}];
  if (!d) {
    const json dims = json::array({10, 7, 5});
    json attrs = {{"dimensions", json::array()},
                  {"blockSize", json::array()},
                  {"dataType", kDataTypes[dtype]},
                  {"compression", kCompressions[compression]}};
    for (size_t i = 0; i < rank; ++i) {
      attrs["dimensions"].push_back(dims[i]);
      attrs["blockSize"].push_back(4);
    }
    auto kv = std::make_shared<MemoryStore>();
    const std::string text = attrs.dump();
    kv->Set("attributes.json", ToBytes(text));
    d = FindFormat("n5")->open(kv, "fuzz.n5");
  }
  return d;
}

}  // namespace
}  // namespace volbatch::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volbatch;
  using namespace volbatch::fuzz;
  InputReader in(data, size);
  const size_t header_rank = in.Byte() % 34;  // up to one past the largest rank
  const size_t dtype = in.Byte() % std::size(kDataTypes);
  const size_t compression = in.Byte() % std::size(kCompressions);
  const uint8_t unit = in.Byte();
  const ByteView block = in.Rest();

  RejectOnError([&] { CheckHeader(block, header_rank); });

  // The driver's rank is the header's when that is 1 to 3, so a valid block decodes.
  const size_t rank = header_rank >= 1 && header_rank <= 3 ? header_rank : 1 + header_rank % 3;
  RejectOnError([&] {
    const auto driver = Driver(rank, dtype, compression);
    Shape unit_index(rank);
    for (size_t i = 0; i < rank; ++i) unit_index[i] = (unit >> i) & 1;  // interior or edge
    const Array a = driver->DecodeUnit(block, unit_index);
    Check(a.shape() == driver->layout().chunks && a.dtype() == driver->layout().dtype,
          "N5 DecodeUnit: unit of another shape or dtype than the blockSize's");
  });
  return 0;
}
