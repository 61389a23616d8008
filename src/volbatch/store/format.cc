#include <mutex>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/store/driver.h"
#include "volbatch/store/formats.h"

namespace volbatch {
namespace {

std::vector<Format>& Storage() {
  static std::vector<Format> formats;
  return formats;
}

// Built-in formats register on first use (static initializers would be dropped by the linker).
std::vector<Format>& Loaded() {
  static std::once_flag once;
  std::call_once(once, [] { RegisterBuiltinFormats(); });
  return Storage();
}

}  // namespace

void RegisterFormat(Format format) { Storage().push_back(std::move(format)); }

const Format* FindFormat(const std::string& name) {
  for (const auto& f : Loaded()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Format* DetectFormat(const KvStore& kv) {
  for (const auto& f : Loaded()) {
    if (f.probe(kv)) return &f;
  }
  return nullptr;
}

std::vector<std::string> FormatNames() {
  std::vector<std::string> names;
  for (const auto& f : Loaded()) names.push_back(f.name);
  return names;
}

std::optional<Array> FormatDriver::ReadUnitRegion(const KvStore& kv, const Shape& unit_index,
                                                  const Box& local) const {
  const std::string key = UnitKey(unit_index);
  auto bytes = kv.Get(key);
  if (!bytes) return std::nullopt;
  const bool whole = local == Box::FromShape(layout().write_chunks);
  Array unit;
  try {
    if (!whole) {
      if (std::optional<Array> part = DecodeUnitRegion(*bytes, unit_index, local)) return part;
    }
    unit = DecodeOwnedUnit(std::move(*bytes), unit_index);
  } catch (const Error& e) {
    throw WithContext(e, kv.Describe(key));
  }
  if (whole) return unit;
  return unit.Slice(local);
}

bool FormatDriver::ReadUnitInto(const KvStore& kv, const Shape& unit_index, const Box& local,
                                Array& out, const Shape& out_origin) const {
  std::optional<Array> part = ReadUnitRegion(kv, unit_index, local);
  if (!part) return false;
  CopyRegion(*part, Shape(local.rank(), 0), out, out_origin, local.shape);
  return true;
}

std::optional<Bytes> FormatDriver::EncodeUnitFrom(const Array& src, const Shape& origin,
                                                  const Shape& unit_index) const {
  return EncodeUnit(src.Slice(Box(origin, layout().write_chunks)), unit_index);
}

}  // namespace volbatch
