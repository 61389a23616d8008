#include <mutex>
#include <vector>

#include "volbatch/core/error.h"
#include "volbatch/core/runs.h"
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

namespace {

// Units of at least this many bytes stored as their elements go between the store and the
// rows of the array as pieces (KvStore::SetPieces, GetInto); smaller ones are copied through
// one buffer that malloc reuses, since for them a piece per row costs more than the copy it
// saves (64^3 uint8 chunks read into 64x1024x1024 slabs took 1.3x the CPU as pieces).
constexpr uint64_t kUnitPiecesFromBytes = uint64_t{1} << 20;

// Bytes of one storage unit's elements (write_chunks of them).
uint64_t UnitBytesOf(const ArrayLayout& l) {
  return static_cast<uint64_t>(NumElements(l.write_chunks)) * ByteSize(l.dtype);
}

// Below this many bytes per stretch of the file, reading each stretch of a part of a unit on
// its own costs more than reading the whole unit and copying the part.
constexpr uint64_t kMinStretchBytes = uint64_t{64} << 10;

// `local` of a unit of `l` stored as its elements, read by the store straight into `out` at
// `out_origin`: true if read, false if absent, nullopt where the caller should read the unit
// whole (a small unit, the store declines, or the part is many small stretches of the file).
std::optional<bool> ReadStoredElementsInto(const KvStore& kv, const std::string& key,
                                           const ArrayLayout& l, const Box& local, Array& out,
                                           const Shape& out_origin) {
  const uint64_t size = UnitBytesOf(l);
  if (size < kUnitPiecesFromBytes) return std::nullopt;
  const size_t es = out.element_size();
  std::vector<KvStore::ReadPiece> pieces;
  uint64_t total = 0, next = 0;
  size_t stretches = 0;
  ForEachRun(l.write_chunks, local.begin, out.shape(), out_origin, local.shape,
             [&](Index in_unit, Index in_out, Index n) {
               const uint64_t offset = static_cast<uint64_t>(in_unit) * es;
               const size_t bytes = static_cast<size_t>(n) * es;
               if (pieces.empty() || offset != next) ++stretches;
               pieces.push_back({offset, {out.data() + static_cast<size_t>(in_out) * es, bytes}});
               next = offset + bytes;
               total += bytes;
             });
  if (stretches > 1 && total / stretches < kMinStretchBytes) return std::nullopt;
  switch (kv.GetInto(key, size, pieces)) {
    case KvStore::GetIntoResult::kAbsent:
      return false;
    case KvStore::GetIntoResult::kRead:
      return true;
    case KvStore::GetIntoResult::kDeclined:
      break;
  }
  return std::nullopt;
}

}  // namespace

bool FormatDriver::ReadUnitInto(const KvStore& kv, const Shape& unit_index, const Box& local,
                                Array& out, const Shape& out_origin) const {
  if (StoresUnitsAsElements() && out.dtype() == layout().dtype) {
    if (std::optional<bool> read =
            ReadStoredElementsInto(kv, UnitKey(unit_index), layout(), local, out, out_origin)) {
      return *read;
    }
  }
  std::optional<Array> part = ReadUnitRegion(kv, unit_index, local);
  if (!part) return false;
  CopyRegion(*part, Shape(local.rank(), 0), out, out_origin, local.shape);
  return true;
}

std::optional<Bytes> FormatDriver::EncodeUnitFrom(const Array& src, const Shape& origin,
                                                  const Shape& unit_index) const {
  return EncodeUnit(src.Slice(Box(origin, layout().write_chunks)), unit_index);
}

std::optional<UnitBytes> FormatDriver::EncodeUnitView(const Array& src, const Shape& origin,
                                                      const Shape& unit_index,
                                                      Bytes& scratch) const {
  std::optional<Bytes> encoded = EncodeUnitFrom(src, origin, unit_index);
  if (!encoded) return std::nullopt;
  scratch = std::move(*encoded);
  return UnitBytes{ByteView(scratch)};
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

// The elements of the box at `origin` of `shape` in `src` (it must lie inside), in C order: a
// view of `src` where they lie contiguous there, else gathered into `scratch` (resized, not
// zeroed; its memory reused).
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

// The same elements as the runs where they lie in `src` (one run when contiguous there).
UnitBytes UnitElementRuns(const Array& src, const Shape& origin, const Shape& shape) {
  const size_t es = src.element_size();
  UnitBytes runs;
  ForEachRun(
      src.shape(), origin, shape, Shape(shape.size(), 0), shape, [&](Index in_src, Index, Index n) {
        runs.push_back(
            src.bytes().subspan(static_cast<size_t>(in_src) * es, static_cast<size_t>(n) * es));
      });
  return runs;
}

// `elements` passed through `codecs` in order, left in `scratch` (which `elements` may view);
// `elements` itself when there are no codecs.
ByteView EncodeElements(ByteView elements,
                        const std::vector<std::shared_ptr<const BytesCodec>>& codecs,
                        const ChunkSpec& spec, Bytes& scratch) {
  if (codecs.empty()) return elements;
  Bytes out = codecs[0]->Encode(elements, spec);
  for (size_t i = 1; i < codecs.size(); ++i) out = codecs[i]->Encode(out, spec);
  scratch = std::move(out);
  return ByteView(scratch);
}

}  // namespace

std::optional<UnitBytes> EncodeStoredElements(
    const Array& src, const Shape& origin, const ArrayLayout& l,
    const std::vector<std::shared_ptr<const BytesCodec>>& codecs, const ChunkSpec& spec,
    bool drop_fill_units, Bytes& scratch) {
  if (codecs.empty() && UnitBytesOf(l) >= kUnitPiecesFromBytes) {
    UnitBytes runs = UnitElementRuns(src, origin, l.write_chunks);
    if (drop_fill_units) {
      for (ByteView run : runs) {
        if (!AllElementsEqual(run, l.fill_value)) return runs;
      }
      return std::nullopt;
    }
    return runs;
  }
  const ByteView elements = UnitElements(src, origin, l.write_chunks, scratch);
  if (drop_fill_units && AllElementsEqual(elements, l.fill_value)) return std::nullopt;
  return UnitBytes{EncodeElements(elements, codecs, spec, scratch)};
}

}  // namespace volbatch
