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

std::optional<ByteView> FormatDriver::EncodeUnitView(const Array& src, const Shape& origin,
                                                     const Shape& unit_index,
                                                     Bytes& scratch) const {
  std::optional<Bytes> encoded = EncodeUnitFrom(src, origin, unit_index);
  if (!encoded) return std::nullopt;
  scratch = std::move(*encoded);
  return ByteView(scratch);
}

namespace {

// True if the box of `shape` lies contiguous in a C-order array of `full` shape: every axis
// after the first one it spans partly is whole, and every axis before it has extent 1.
bool Contiguous(const Shape& full, const Shape& shape) {
  size_t partial = shape.size();
  while (partial > 0 && shape[partial - 1] == full[partial - 1]) --partial;
  for (size_t i = 0; i + 1 < partial; ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

}  // namespace

ByteView UnitElements(const Array& src, const Shape& origin, const Shape& shape, Bytes& scratch) {
  const size_t es = src.element_size();
  const size_t n = static_cast<size_t>(NumElements(shape)) * es;
  if (Contiguous(src.shape(), shape)) {
    Index offset = 0;
    for (size_t i = 0; i < origin.size(); ++i) offset = offset * src.shape()[i] + origin[i];
    return src.bytes().subspan(static_cast<size_t>(offset) * es, n);
  }
  scratch.clear();    // nothing to keep: growing moves no bytes
  scratch.resize(n);  // Bytes does not zero; every byte is copied below
  CopyRegion(src.data(), src.shape(), origin, scratch.data(), shape, Shape(shape.size(), 0), shape,
             es);
  return ByteView(scratch);
}

ByteView EncodeElements(ByteView elements,
                        const std::vector<std::shared_ptr<const BytesCodec>>& codecs,
                        const ChunkSpec& spec, Bytes& scratch) {
  if (codecs.empty()) return elements;
  Bytes out = codecs[0]->Encode(elements, spec);
  for (size_t i = 1; i < codecs.size(); ++i) out = codecs[i]->Encode(out, spec);
  scratch = std::move(out);
  return ByteView(scratch);
}

}  // namespace volbatch
