// numcodecs' delta and astype filters, the element casts every filter shares (numpy's casting
// rules through a small tagged value) and the filter registry. Filters walk the chunk element
// by element, so they cost a few nanoseconds per element on top of one output buffer; they are
// read for compatibility, never chosen by volbatch when writing.
#include "volbatch/codec/numcodecs_filters.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "volbatch/codec/numcodecs_filter_util.h"
#include "volbatch/codec/registry.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace codec_internal {

double ToDouble(const Value& v) {
  switch (v.kind) {
    case Num::kSigned:
      return static_cast<double>(static_cast<int64_t>(v.i));
    case Num::kUnsigned:
      return static_cast<double>(v.i);
    case Num::kFloat:
      return v.f;
  }
  return 0;
}

// numpy leaves NaN and out-of-range float -> int casts undefined; we make them 0 instead of
// relying on undefined behaviour.
uint64_t FloatToIntBits(double f) {
  if (std::isnan(f) || f >= 18446744073709551616.0 || f < -9223372036854775808.0) return 0;
  if (f >= 9223372036854775808.0) return static_cast<uint64_t>(f);
  return static_cast<uint64_t>(static_cast<int64_t>(f));
}

Value Load(const std::byte* p, Zarr2DType t) {
  const size_t n = ByteSize(t.dtype);
  std::byte buf[8];
  std::memcpy(buf, p, n);
  if (t.big_endian) std::reverse(buf, buf + n);
  return VisitDataType(t.dtype, [&](auto tag) -> Value {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      return {Num::kUnsigned, buf[0] != std::byte{0} ? 1u : 0u, 0};
    } else if constexpr (std::is_same_v<T, Float16>) {
      uint16_t h;
      std::memcpy(&h, buf, 2);
      return {Num::kFloat, 0, HalfToDouble(h)};
    } else {
      T v;
      std::memcpy(&v, buf, sizeof(T));
      if constexpr (std::is_floating_point_v<T>) {
        return {Num::kFloat, 0, static_cast<double>(v)};
      } else if constexpr (std::is_signed_v<T>) {
        return {Num::kSigned, static_cast<uint64_t>(static_cast<int64_t>(v)), 0};
      } else {
        return {Num::kUnsigned, static_cast<uint64_t>(v), 0};
      }
    }
  });
}

void Store(std::byte* p, Zarr2DType t, const Value& v) {
  const size_t n = ByteSize(t.dtype);
  std::byte buf[8];
  VisitDataType(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      const bool b = v.kind == Num::kFloat ? v.f != 0 : v.i != 0;  // NaN != 0: true, as numpy
      buf[0] = std::byte{b ? uint8_t{1} : uint8_t{0}};
    } else if constexpr (std::is_same_v<T, Float16>) {
      const uint16_t h = DoubleToHalf(ToDouble(v));
      std::memcpy(buf, &h, 2);
    } else {
      T x;
      if constexpr (std::is_floating_point_v<T>) {
        // Straight from the integer so int64 -> float32 rounds once, as numpy does.
        if (v.kind == Num::kSigned) {
          x = static_cast<T>(static_cast<int64_t>(v.i));
        } else if (v.kind == Num::kUnsigned) {
          x = static_cast<T>(v.i);
        } else {
          x = static_cast<T>(v.f);
        }
      } else {
        x = static_cast<T>(v.kind == Num::kFloat ? FloatToIntBits(v.f) : v.i);
      }
      std::memcpy(buf, &x, sizeof(T));
    }
  });
  if (t.big_endian) std::reverse(buf, buf + n);
  std::memcpy(p, buf, n);
}

// a + b or a - b in the type both were loaded from; the caller's Store rounds or wraps the
// result to that type (double holds a sum of two float32s exactly enough that rounding it to
// float32 or float16 gives the correctly rounded result numpy computes).
Value Combine(const Value& a, const Value& b, bool subtract) {
  Value r = a;
  if (a.kind == Num::kFloat) {
    r.f = subtract ? a.f - b.f : a.f + b.f;
  } else {
    r.i = subtract ? a.i - b.i : a.i + b.i;
  }
  return r;
}

void CheckSize(ByteView data, size_t n, Zarr2DType t, const std::string& filter) {
  if (data.size() != n * ByteSize(t.dtype)) {
    throw DataLoss(filter + " filter: chunk has " + std::to_string(data.size()) +
                   " bytes, expected " + std::to_string(n) + " elements of " + Zarr2DTypeString(t));
  }
}

Zarr2DType TypeField(const nlohmann::json& config, const char* field, const std::string& what) {
  if (!config.contains(field) || !config[field].is_string()) {
    throw InvalidArgument(what + ": \"" + field + "\" must be a numpy dtype string");
  }
  return ParseNumpyDTypeLenient(config[field].get<std::string>(), what + "." + field);
}

Zarr2DType InputTypeField(const nlohmann::json& config, const char* field, const std::string& what,
                          std::optional<Zarr2DType> input) {
  if (input && (!config.contains(field) || config[field].is_null())) return *input;
  return TypeField(config, field, what);
}

}  // namespace codec_internal
namespace {

using namespace codec_internal;

class DeltaFilter : public Zarr2Filter {
 public:
  DeltaFilter(Zarr2DType dtype, Zarr2DType astype) : dtype_(dtype), astype_(astype) {}
  nlohmann::json ToJson() const override {
    return {{"id", "delta"},
            {"dtype", Zarr2DTypeString(dtype_)},
            {"astype", Zarr2DTypeString(astype_)}};
  }
  std::string Summary() const override {
    return "delta(" + Zarr2DTypeString(dtype_) +
           (astype_ == dtype_ ? "" : " as " + Zarr2DTypeString(astype_)) + ")";
  }
  Zarr2DType decoded_type() const override { return dtype_; }
  Zarr2DType encoded_type() const override { return astype_; }

  // numpy: dec = cumsum(enc) accumulated in dtype.
  Bytes Decode(ByteView enc, size_t n) const override {
    CheckSize(enc, n, astype_, "delta");
    const size_t es = ByteSize(astype_.dtype), ds = ByteSize(dtype_.dtype);
    Bytes out(n * ds);
    Value acc;
    for (size_t i = 0; i < n; ++i) {
      std::byte* dst = out.data() + i * ds;
      Store(dst, dtype_, Load(enc.data() + i * es, astype_));
      if (i > 0) Store(dst, dtype_, Combine(acc, Load(dst, dtype_), false));
      acc = Load(dst, dtype_);
    }
    return out;
  }
  // numpy: enc[0] = dec[0]; enc[1:] = diff(dec) computed in dtype, then cast to astype.
  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, dtype_, "delta");
    const size_t es = ByteSize(astype_.dtype), ds = ByteSize(dtype_.dtype);
    Bytes out(n * es);
    std::byte diff[8];
    for (size_t i = 0; i < n; ++i) {
      Value v = Load(dec.data() + i * ds, dtype_);
      if (i > 0) {
        Store(diff, dtype_, Combine(v, Load(dec.data() + (i - 1) * ds, dtype_), true));
        v = Load(diff, dtype_);
      }
      Store(out.data() + i * es, astype_, v);
    }
    return out;
  }

 private:
  Zarr2DType dtype_, astype_;
};

class AsTypeFilter : public Zarr2Filter {
 public:
  AsTypeFilter(Zarr2DType encode, Zarr2DType decode) : encode_(encode), decode_(decode) {}
  nlohmann::json ToJson() const override {
    return {{"id", "astype"},
            {"encode_dtype", Zarr2DTypeString(encode_)},
            {"decode_dtype", Zarr2DTypeString(decode_)}};
  }
  std::string Summary() const override {
    return "astype(" + Zarr2DTypeString(decode_) + " as " + Zarr2DTypeString(encode_) + ")";
  }
  Zarr2DType decoded_type() const override { return decode_; }
  Zarr2DType encoded_type() const override { return encode_; }
  Bytes Decode(ByteView enc, size_t n) const override {
    CheckSize(enc, n, encode_, "astype");
    return Cast(enc, n, encode_, decode_);
  }
  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, decode_, "astype");
    return Cast(dec, n, decode_, encode_);
  }

 private:
  static Bytes Cast(ByteView in, size_t n, Zarr2DType from, Zarr2DType to) {
    const size_t fs = ByteSize(from.dtype), ts = ByteSize(to.dtype);
    Bytes out(n * ts);
    for (size_t i = 0; i < n; ++i)
      ConvertElement(in.data() + i * fs, from, out.data() + i * ts, to);
    return out;
  }
  Zarr2DType encode_, decode_;
};

}  // namespace

uint16_t DoubleToHalf(double d) {
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  if (std::isnan(d)) return sign | 0x7e00;
  const double a = std::fabs(d);
  if (std::isinf(a)) return sign | 0x7c00;
  if (a < 0x1p-14) {
    // Subnormal: a multiple of 2^-24; 1024 rounds up into the smallest normal, whose bits
    // happen to be 0x400 too.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24));
  }
  int k;
  const double f = std::frexp(a, &k);  // a = f * 2^k, f in [0.5, 1)
  int e = k - 1;
  double m = std::nearbyint(std::ldexp(f, 11));  // in [1024, 2048]
  if (m == 2048) {
    m = 1024;
    ++e;
  }
  if (e + 15 >= 31) return sign | 0x7c00;
  return sign | static_cast<uint16_t>((e + 15) << 10) | static_cast<uint16_t>(m - 1024);
}

double HalfToDouble(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) {
    return mant ? std::copysign(std::numeric_limits<double>::quiet_NaN(), sign)
                : sign * std::numeric_limits<double>::infinity();
  }
  return sign * std::ldexp(mant + 1024, exp - 25);
}

void ConvertElement(const std::byte* src, Zarr2DType src_type, std::byte* dst,
                    Zarr2DType dst_type) {
  Store(dst, dst_type, Load(src, src_type));
}

namespace {

struct FilterRegistry {
  std::mutex mu;
  std::map<std::string, NumcodecsFilterFactory> factories;
};

FilterRegistry& Filters() {
  static FilterRegistry r;
  return r;
}

NumcodecsFilterFactory FindFilter(const std::string& id) {
  // The built-in filters register with the codecs, on the registry's first use.
  if (KindOfCodec("numcodecs." + id) != CodecKind::kArrayToArray) return nullptr;
  std::lock_guard lock(Filters().mu);
  const auto it = Filters().factories.find(id);
  return it == Filters().factories.end() ? nullptr : it->second;
}

std::string KnownFilters() {
  std::lock_guard lock(Filters().mu);
  std::string known;
  for (const auto& [id, f] : Filters().factories) known += (known.empty() ? "" : ", ") + id;
  return known;
}

std::shared_ptr<const Zarr2Filter> MakeDelta(const nlohmann::json& config, const std::string& what,
                                             std::optional<Zarr2DType> input) {
  const Zarr2DType dtype = InputTypeField(config, "dtype", what, input);
  Zarr2DType astype = dtype;
  if (config.contains("astype") && !config["astype"].is_null()) {
    astype = TypeField(config, "astype", what);
  }
  if (dtype.dtype == DataType::kBool || astype.dtype == DataType::kBool) {
    throw Unsupported(what + ": delta filter on booleans is not supported");
  }
  return std::make_shared<DeltaFilter>(dtype, astype);
}

std::shared_ptr<const Zarr2Filter> MakeAsType(const nlohmann::json& config, const std::string& what,
                                              std::optional<Zarr2DType> input) {
  const Zarr2DType encode = TypeField(config, "encode_dtype", what);
  const Zarr2DType decode = InputTypeField(config, "decode_dtype", what, input);
  return std::make_shared<AsTypeFilter>(encode, decode);
}

}  // namespace

void RegisterNumcodecsFilter(const std::string& id, NumcodecsFilterFactory factory) {
  {
    std::lock_guard lock(Filters().mu);
    Filters().factories[id] = factory;
  }
  RegisterArrayCodec("numcodecs." + id, [id, factory](const nlohmann::json& configuration) {
    return MakeNumcodecsArrayCodec(id, factory, configuration);
  });
}

void RegisterNumcodecsCastFilters() {
  RegisterNumcodecsFilter("delta", MakeDelta);
  RegisterNumcodecsFilter("astype", MakeAsType);
}

bool IsZarr2ArrayFilter(const std::string& id) { return FindFilter(id) != nullptr; }

std::shared_ptr<const Zarr2Filter> MakeZarr2Filter(const nlohmann::json& config,
                                                   const std::string& what,
                                                   std::optional<Zarr2DType> input) {
  if (!config.is_object() || !config.contains("id") || !config["id"].is_string()) {
    throw InvalidArgument(what + " must be an object with a string \"id\"");
  }
  const std::string id = config["id"].get<std::string>();
  const NumcodecsFilterFactory factory = FindFilter(id);
  if (!factory) {
    throw Unsupported(what + ": filter \"" + id + "\" is not supported (volbatch reads " +
                      KnownFilters() + ")");
  }
  return factory(config, what, input);
}

}  // namespace volbatch
