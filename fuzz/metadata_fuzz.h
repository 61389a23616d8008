// The body shared by the three metadata targets (n5, zarr2, zarr3): the input is the metadata
// document, stored under the format's key in a memory store and opened through the format
// registry, exactly as Dataset opens an array. An array that opens is then exercised a little:
// its describing calls, its first unit's key (which must be a valid store key), and, when its
// storage unit is small, an encode -> decode of unit 0 that must give the values back (except
// through Zarr v2 filters, some of which are lossy by design).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_util.h"
#include "fuzz/memory_store.h"
#include "volbatch/store/driver.h"

namespace volbatch::fuzz {

inline constexpr size_t kMaxRoundTripBytes = 1 << 16;

// Elements of `shape`, or 0 if more than `limit` (or overflowing).
inline size_t BoundedElements(const Shape& shape, size_t limit) {
  size_t n = 1;
  for (Index d : shape) {
    if (d < 0 || (d > 0 && n > limit / static_cast<size_t>(d))) return 0;
    n *= static_cast<size_t>(d);
  }
  return n <= limit ? n : 0;
}

inline void RoundTripFirstUnit(const FormatDriver& driver, bool lossless) {
  const ArrayLayout& l = driver.layout();
  const size_t es = ByteSize(l.dtype);
  const size_t n = BoundedElements(l.write_chunks, kMaxRoundTripBytes / es);
  if (n == 0 || l.shape.size() != l.write_chunks.size()) return;
  Array unit = Array::Filled(l.dtype, l.write_chunks, l.fill_value);
  std::byte* p = unit.data();
  for (size_t i = 0; i < unit.num_bytes(); ++i) {
    p[i] = l.dtype == DataType::kBool ? std::byte(i & 1) : std::byte((i * 131 + 7) & 0xff);
  }
  const Shape origin(l.shape.size(), 0);
  const auto encoded = driver.EncodeUnit(unit, origin);
  if (!encoded) return;
  const Array decoded = driver.DecodeUnit(*encoded, origin);
  Check(decoded.shape() == l.write_chunks && decoded.dtype() == l.dtype,
        "DecodeUnit: unit of another shape or dtype than the layout's");
  if (!lossless) return;
  // Only the part inside the volume round-trips; outside it the fill value is decoded.
  Shape valid(l.shape.size());
  for (size_t i = 0; i < valid.size(); ++i) valid[i] = std::min(l.shape[i], l.write_chunks[i]);
  if (BoundedElements(valid, n) == 0) return;
  Array want(l.dtype, valid), got(l.dtype, valid);
  CopyRegion(unit, origin, want, origin, valid);
  CopyRegion(decoded, origin, got, origin, valid);
  Check(want == got, "decode(encode(unit 0)) differs from unit 0 inside the volume");
}

inline void FuzzMetadata(const char* format_name, const char* key, const uint8_t* data,
                         size_t size) {
  const Format* format = FindFormat(format_name);
  if (!format) Fail(std::string("no format ") + format_name);
  auto kv = std::make_shared<MemoryStore>();
  kv->Set(key, ByteView(reinterpret_cast<const std::byte*>(data), size));
  RejectOnError([&] {
    if (!format->probe(*kv)) return;
    const auto driver = format->open(kv, "fuzz");
    const ArrayLayout& l = driver->layout();
    Check(!l.shape.empty() && l.shape.size() == l.chunks.size() &&
              l.chunks.size() == l.write_chunks.size(),
          "opened an array whose shape and chunks differ in rank");
    Check(l.fill_value.size() == ByteSize(l.dtype), "fill value is not one element");
    (void)driver->Metadata().dump();
    (void)driver->CodecSummary();
    (void)driver->Attributes().dump();
    const std::string unit_key = driver->UnitKey(Shape(l.shape.size(), 0));
    try {
      ValidateKey(unit_key);
    } catch (const Error& e) {
      Fail("unit key \"" + unit_key + "\" is not a valid key: " + e.what());
    }
    const nlohmann::json meta = driver->Metadata();
    const bool lossless = std::string(format_name) != "zarr2" || !meta.contains("filters") ||
                          meta["filters"].is_null() || meta["filters"].empty();
    RoundTripFirstUnit(*driver, lossless);
  });
}

}  // namespace volbatch::fuzz
