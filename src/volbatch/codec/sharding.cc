// The "sharding_indexed" codec; the byte layout and costs are described in sharding.h.
#include "volbatch/codec/sharding.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "volbatch/codec/registry.h"
#include "volbatch/core/checked.h"
#include "volbatch/core/error.h"
#include "volbatch/core/parallel.h"

namespace volbatch {
namespace {

Shape Unravel(const Shape& grid, size_t which) {
  Shape pos(grid.size());
  for (size_t i = grid.size(); i-- > 0;) {
    pos[i] = static_cast<Index>(which % static_cast<size_t>(grid[i]));
    which /= static_cast<size_t>(grid[i]);
  }
  return pos;
}

ChunkSpec IndexSpec(const Shape& grid) {
  ChunkSpec s;
  s.dtype = DataType::kUint64;
  s.shape = grid;
  s.shape.push_back(2);
  s.fill_value = Bytes(8, std::byte{0xff});
  return s;
}

// Each thread's buffer for the inner chunk it is encoding (ShardingCodec::EncodeInnerChunk).
Bytes& InnerChunkBuffer() {
  thread_local Bytes buffer;
  return buffer;
}

// A shard's bytes, `size` of them: the encoded index and the stored inner chunks in order,
// copied once into one allocation.
Bytes JoinShard(const std::vector<std::optional<Bytes>>& parts, const Bytes& index,
                bool index_at_end, size_t size) {
  Bytes out(size);
  std::byte* at = out.data();
  auto put = [&](const Bytes& b) {
    if (b.empty()) return;
    std::memcpy(at, b.data(), b.size());
    at += b.size();
  };
  if (!index_at_end) put(index);
  for (const auto& p : parts) {
    if (p) put(*p);
  }
  if (index_at_end) put(index);
  if (at != out.data() + size) throw Internal("sharding_indexed: shard size miscounted");
  return out;
}

// Saturates instead of throwing: the bound only limits what a decoder may produce.
size_t SatAdd(size_t a, size_t b) {
  size_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<size_t>::max() : r;
}
size_t SatMul(size_t a, size_t b) {
  size_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<size_t>::max() : r;
}

}  // namespace

std::string InnerChunkName(const Shape& grid, size_t which) {
  return ShapeToString(Unravel(grid, which));
}

ShardingCodec::ShardingCodec(Shape inner_chunk_shape, CodecChain inner, CodecChain index,
                             bool index_at_end)
    : inner_shape_(std::move(inner_chunk_shape)),
      inner_(std::move(inner)),
      index_(std::move(index)),
      index_at_end_(index_at_end) {}

nlohmann::json ShardingCodec::ToJson() const {
  return {{"name", "sharding_indexed"},
          {"configuration",
           {{"chunk_shape", inner_shape_},
            {"codecs", inner_.ToJson()},
            {"index_codecs", index_.ToJson()},
            {"index_location", index_at_end_ ? "end" : "start"}}}};
}

Shape ShardingCodec::InnerGrid(const Shape& shard_shape) const {
  if (shard_shape.size() != inner_shape_.size()) {
    throw InvalidArgument("sharding_indexed: chunk_shape " + ShapeToString(inner_shape_) +
                          " and the shard shape " + ShapeToString(shard_shape) + " differ in rank");
  }
  Shape grid(shard_shape.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    if (shard_shape[i] <= 0 || shard_shape[i] % inner_shape_[i] != 0) {
      throw InvalidArgument("sharding_indexed: chunk_shape " + ShapeToString(inner_shape_) +
                            " does not divide the shard shape " + ShapeToString(shard_shape));
    }
    grid[i] = shard_shape[i] / inner_shape_[i];
  }
  return grid;
}

ChunkSpec ShardingCodec::InnerSpec(const ChunkSpec& shard_spec) const {
  ChunkSpec s = shard_spec;
  s.shape = inner_shape_;
  return s;
}

size_t ShardingCodec::IndexSize(const Shape& shard_shape) const {
  {
    std::lock_guard lock(mu_);
    auto it = index_size_cache_.find(shard_shape);
    if (it != index_size_cache_.end()) return it->second;
  }
  const Shape grid = InnerGrid(shard_shape);
  const Index n = NumElements(grid, "sharding_indexed: inner chunks per shard");
  if (CheckedMul(n, 16, "sharding_indexed index") > kMaxChunkBytes) {
    throw InvalidArgument("sharding_indexed: " + std::to_string(n) +
                          " inner chunks per shard make an index larger than 16 GiB");
  }
  // The size of an encoded index follows from its codecs, and the spec requires codecs of a
  // fixed size; encoding two indexes of different content both finds and checks it.
  const ChunkSpec spec = IndexSpec(grid);
  Array empty = Array::Filled(DataType::kUint64, spec.shape, spec.fill_value);
  Array mixed(DataType::kUint64, spec.shape);
  uint64_t* p = mixed.data_as<uint64_t>();
  for (Index i = 0; i < 2 * n; ++i) p[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  size_t size;
  try {
    size = index_.Encode(empty, spec).size();
    if (index_.Encode(mixed, spec).size() != size) {
      throw InvalidArgument(
          "encoded size varies with the content; use fixed-size codecs such as bytes and crc32c");
    }
  } catch (const Error& e) {
    throw WithContext(e, "sharding_indexed.index_codecs");
  }
  std::lock_guard lock(mu_);
  index_size_cache_[shard_shape] = size;
  return size;
}

std::vector<ShardIndexEntry> ShardingCodec::DecodeIndex(ByteView index, const Shape& shard_shape,
                                                        std::optional<uint64_t> shard_size) const {
  const Shape grid = InnerGrid(shard_shape);
  const size_t expected = IndexSize(shard_shape);
  if (index.size() != expected) {
    throw DataLoss("shard index has " + std::to_string(index.size()) + " bytes, expected " +
                   std::to_string(expected));
  }
  Array decoded;
  try {
    decoded = index_.Decode(index, IndexSpec(grid));
  } catch (const Error& e) {
    throw WithContext(e, "shard index");
  }
  // Inner chunks lie between the index and the end ("start") or before the index ("end").
  const uint64_t lo = index_at_end_ ? 0 : expected;
  std::optional<uint64_t> hi;
  if (shard_size)
    hi = index_at_end_ ? *shard_size - std::min<uint64_t>(*shard_size, expected) : *shard_size;
  const uint64_t* v = decoded.data_as<uint64_t>();
  const size_t n = static_cast<size_t>(decoded.num_elements() / 2);
  std::vector<ShardIndexEntry> entries(n);
  for (size_t i = 0; i < n; ++i) {
    ShardIndexEntry e{v[2 * i], v[2 * i + 1]};
    if (!e.empty()) {
      const std::string what = "shard index: inner chunk " + InnerChunkName(grid, i);
      if (e.offset == kShardEntryEmpty || e.nbytes == kShardEntryEmpty) {
        throw DataLoss(what + ": only one of offset and nbytes marks it empty");
      }
      const uint64_t end = CheckedAddU(e.offset, e.nbytes, what);
      if (e.offset < lo || (hi && end > *hi)) {
        throw DataLoss(what + ": bytes [" + std::to_string(e.offset) + ", " + std::to_string(end) +
                       ") lie outside the shard's data [" + std::to_string(lo) + ", " +
                       (hi ? std::to_string(*hi) : "end") + ")");
      }
    }
    entries[i] = e;
  }
  return entries;
}

Array ShardingCodec::DecodeInnerChunk(ByteView encoded, const ChunkSpec& inner_spec,
                                      const Shape& grid, size_t which) const {
  try {
    return inner_.Decode(encoded, inner_spec);
  } catch (const Error& e) {
    throw WithContext(e, "inner chunk " + InnerChunkName(grid, which));
  }
}

ShardingCodec::InnerDecode ShardingCodec::DecodeInnerRegionInto(ByteView encoded,
                                                                const ChunkSpec& inner_spec,
                                                                const Shape& grid, size_t which,
                                                                const Box& region, Array& out,
                                                                const Shape& dst) const {
  // Bytes that are the elements themselves: the region is a copy out of them. A wrong size is
  // left to the whole decode below, which reports it.
  const bool as_is = inner_.array_codecs().empty() && inner_.bytes_codecs().empty() &&
                     inner_.array_to_bytes()->DecodesAsIs(inner_spec);
  try {
    if (as_is && encoded.size() == inner_spec.num_bytes()) {
      CopyRegion(encoded.data(), inner_spec.shape, region.begin, out.data(), out.shape(), dst,
                 region.shape, ByteSize(inner_spec.dtype));
      return InnerDecode::kAsIs;
    }
    if (region != Box::FromShape(inner_spec.shape)) {
      if (std::optional<Array> part = inner_.DecodeRegion(encoded, inner_spec, region)) {
        CopyRegion(*part, Shape(region.rank(), 0), out, dst, region.shape);
        return InnerDecode::kRegion;
      }
    }
    const Array chunk = inner_.Decode(encoded, inner_spec);
    CopyRegion(chunk, region.begin, out, dst, region.shape);
    return InnerDecode::kWhole;
  } catch (const Error& e) {
    throw WithContext(e, "inner chunk " + InnerChunkName(grid, which));
  }
}

Bytes ShardingCodec::Encode(const Array& shard, const ChunkSpec& spec) const {
  if (shard.shape() != spec.shape) {
    throw Internal("sharding_indexed: shard of shape " + ShapeToString(shard.shape()) +
                   ", expected " + ShapeToString(spec.shape));
  }
  size_t stored = 0;
  return EncodeShard(shard, Shape(spec.shape.size(), 0), spec, &stored);
}

std::optional<Bytes> ShardingCodec::EncodeRegion(const Array& src, const Shape& origin,
                                                 const ChunkSpec& spec) const {
  if (!Box::FromShape(src.shape()).Contains(Box(origin, spec.shape))) {
    throw Internal("sharding_indexed: shard at " + ShapeToString(origin) + " of shape " +
                   ShapeToString(spec.shape) + " outside an array of shape " +
                   ShapeToString(src.shape()));
  }
  size_t stored = 0;
  Bytes out = EncodeShard(src, origin, spec, &stored);
  if (stored == 0) return std::nullopt;
  return out;
}

Bytes ShardingCodec::EncodeShard(const Array& src, const Shape& shard_origin, const ChunkSpec& spec,
                                 size_t* stored) const {
  const Shape grid = InnerGrid(spec.shape);
  const size_t n = static_cast<size_t>(NumElements(grid));
  const size_t index_size = IndexSize(spec.shape);
  const ChunkSpec inner = InnerSpec(spec);
  std::vector<std::optional<Bytes>> parts(n);
  ParallelFor(size_t{0}, n, [&](size_t i) {
    Shape origin = Unravel(grid, i);
    for (size_t d = 0; d < origin.size(); ++d)
      origin[d] = shard_origin[d] + origin[d] * inner_shape_[d];
    try {
      parts[i] = EncodeInnerChunk(src, origin, inner);
    } catch (const Error& e) {
      throw WithContext(e, "inner chunk " + InnerChunkName(grid, i));
    }
  });

  const ChunkSpec ispec = IndexSpec(grid);
  Array index = Array::Filled(DataType::kUint64, ispec.shape, ispec.fill_value);
  uint64_t* entries = index.data_as<uint64_t>();
  uint64_t pos = index_at_end_ ? 0 : index_size;
  *stored = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!parts[i]) continue;
    entries[2 * i] = pos;
    entries[2 * i + 1] = parts[i]->size();
    pos += parts[i]->size();
    ++*stored;
  }
  Bytes encoded_index = index_.Encode(index, ispec);
  if (encoded_index.size() != index_size) {
    throw Internal("sharding_indexed: index encoded to " + std::to_string(encoded_index.size()) +
                   " bytes, expected " + std::to_string(index_size));
  }

  return JoinShard(parts, encoded_index, index_at_end_, pos + (index_at_end_ ? index_size : 0));
}

std::optional<Bytes> ShardingCodec::EncodeInnerChunk(const Array& src, const Shape& origin,
                                                     const ChunkSpec& inner) const {
  // The thread's buffer is taken while in use: an inner chunk of another shard that this
  // thread runs meanwhile (nested sharding waits in ParallelFor) finds it empty.
  Bytes gathered = std::move(InnerChunkBuffer());
  gathered.clear();  // nothing to keep: growing moves no bytes
  gathered.resize(inner.num_bytes());
  CopyRegion(src.data(), src.shape(), origin, gathered.data(), inner_shape_,
             Shape(inner_shape_.size(), 0), inner_shape_, src.element_size());
  std::optional<Bytes> out;
  if (!AllElementsEqual(gathered, inner.fill_value)) {
    Array chunk = Array::FromBytes(inner.dtype, inner_shape_, std::move(gathered));
    out = inner_.Encode(chunk, inner);
    gathered = chunk.release();
  }
  InnerChunkBuffer() = std::move(gathered);
  return out;
}

Array ShardingCodec::Decode(ByteView encoded, const ChunkSpec& spec) const {
  const Shape grid = InnerGrid(spec.shape);
  const size_t index_size = IndexSize(spec.shape);
  if (encoded.size() < index_size) {
    throw DataLoss("shard has " + std::to_string(encoded.size()) + " bytes, fewer than its " +
                   std::to_string(index_size) + "-byte index");
  }
  const ByteView index =
      index_at_end_ ? encoded.subspan(encoded.size() - index_size) : encoded.subspan(0, index_size);
  const std::vector<ShardIndexEntry> entries = DecodeIndex(index, spec.shape, encoded.size());
  const ChunkSpec inner = InnerSpec(spec);
  Array out = Array::Filled(spec.dtype, spec.shape, spec.fill_value);
  ParallelFor(size_t{0}, entries.size(), [&](size_t i) {
    const ShardIndexEntry& e = entries[i];
    if (e.empty()) return;
    Shape origin = Unravel(grid, i);
    for (size_t d = 0; d < origin.size(); ++d) origin[d] *= inner_shape_[d];
    DecodeInnerRegionInto(encoded.subspan(e.offset, e.nbytes), inner, grid, i,
                          Box::FromShape(inner_shape_), out, origin);
  });
  return out;
}

size_t ShardingCodec::EncodedSizeBound(const ChunkSpec& spec) const {
  const Shape grid = InnerGrid(spec.shape);
  const ChunkSpec inner = InnerSpec(spec);
  // Compressors may expand incompressible input: each bytes codec's worst case, in turn.
  size_t per_chunk = inner_.array_to_bytes()->EncodedSizeBound(inner);
  for (const auto& codec : inner_.bytes_codecs()) per_chunk = codec->MaxEncodedSize(per_chunk);
  return SatAdd(SatMul(per_chunk, static_cast<size_t>(NumElements(grid))), IndexSize(spec.shape));
}

void RegisterShardingCodec() {
  RegisterArrayToBytesCodec("sharding_indexed", [](const nlohmann::json& config) {
    const std::string what = "sharding_indexed";
    for (const auto& [key, value] : config.items()) {
      if (key != "chunk_shape" && key != "codecs" && key != "index_codecs" &&
          key != "index_location") {
        throw InvalidArgument(what + ".configuration: unknown field \"" + key + "\"");
      }
    }
    for (const char* required : {"chunk_shape", "codecs", "index_codecs"}) {
      if (!config.contains(required)) {
        throw InvalidArgument(what + ".configuration: missing field \"" + required + "\"");
      }
    }
    const auto& cs = config["chunk_shape"];
    if (!cs.is_array()) throw InvalidArgument(what + ".chunk_shape must be a list of integers");
    CheckRank(cs.size(), "sharding_indexed.chunk_shape");
    Shape chunk_shape;
    for (const auto& v : cs) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
        throw InvalidArgument(what + ".chunk_shape must hold positive integers, got " + cs.dump());
      }
      chunk_shape.push_back(v.get<int64_t>());
    }
    bool at_end = true;
    if (config.contains("index_location")) {
      const auto& loc = config["index_location"];
      if (!loc.is_string() || (loc != "start" && loc != "end")) {
        throw InvalidArgument(what + ".index_location must be \"start\" or \"end\", got " +
                              loc.dump());
      }
      at_end = loc == "end";
    }
    CodecChain inner = CodecChain::FromJson(config["codecs"], what + ".codecs");
    CodecChain index = CodecChain::FromJson(config["index_codecs"], what + ".index_codecs");
    return std::make_shared<ShardingCodec>(std::move(chunk_shape), std::move(inner),
                                           std::move(index), at_end);
  });
}

}  // namespace volbatch
