// numcodecs' FixedScaleOffset ("fixedscaleoffset": enc = round((x - offset) * scale) as astype,
// dec = enc / scale + offset as dtype) and Quantize ("quantize": x rounded to a multiple of a
// power of two finer than 10^-digits) filters, computed in the types numpy computes them in:
// a float32 array with Python numbers stays float32 (float16 likewise, through float32),
// integer arrays with integer numbers stay integers (wrapping), and anything else is float64.
// Rounding is half to even (np.around); float -> integer casts truncate (NaN and out of range
// give 0, where numpy leaves them undefined). Both are lossy.
// Byte layout: the elements, one per input element, in astype. Cost: one pass.
#include <cmath>

#include "volbatch/codec/numcodecs_filter_util.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using namespace codec_internal;
using nlohmann::json;

// `x` rounded to float type `t` (one numpy operation's result in that type: double rounding
// through double and float32 is innocuous for + - * /).
double RoundTo(DataType t, double x) {
  if (t == DataType::kFloat32) return static_cast<float>(x);
  if (t == DataType::kFloat16) return HalfToDouble(DoubleToHalf(static_cast<float>(x)));
  return x;
}

// An integer element as the signed or unsigned value of its type, wrapped to that type.
Value Wrap(Zarr2DType t, uint64_t bits) {
  std::byte buf[8];
  const Zarr2DType native{t.dtype, false};
  Store(buf, native, Value{Num::kUnsigned, bits, 0});
  return Load(buf, native);
}

double Number(const json& config, const char* field, const std::string& what) {
  if (!config.contains(field) || !config[field].is_number()) {
    throw InvalidArgument(what + ": \"" + field + "\" must be a number, got " +
                          config.value(field, json()).dump());
  }
  return config[field].get<double>();
}

class FixedScaleOffsetFilter : public Zarr2Filter {
 public:
  FixedScaleOffsetFilter(json offset, json scale, Zarr2DType dtype, Zarr2DType astype)
      : offset_(std::move(offset)), scale_(std::move(scale)), dtype_(dtype), astype_(astype) {}
  json ToJson() const override {
    return {{"id", "fixedscaleoffset"},
            {"offset", offset_},
            {"scale", scale_},
            {"dtype", Zarr2DTypeString(dtype_)},
            {"astype", Zarr2DTypeString(astype_)}};
  }
  std::string Summary() const override {
    return "fixedscaleoffset(offset=" + offset_.dump() + ", scale=" + scale_.dump() + ", " +
           Zarr2DTypeString(dtype_) + " as " + Zarr2DTypeString(astype_) + ")";
  }
  Zarr2DType decoded_type() const override { return dtype_; }
  Zarr2DType encoded_type() const override { return astype_; }

  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, dtype_, "fixedscaleoffset");
    const size_t ds = ByteSize(dtype_.dtype), es = ByteSize(astype_.dtype);
    Bytes out(n * es);
    for (size_t i = 0; i < n; ++i) {
      Store(out.data() + i * es, astype_, EncodeOne(Load(dec.data() + i * ds, dtype_)));
    }
    return out;
  }

  Bytes Decode(ByteView enc, size_t n) const override {
    CheckSize(enc, n, astype_, "fixedscaleoffset");
    const size_t ds = ByteSize(dtype_.dtype), es = ByteSize(astype_.dtype);
    const DataType t = IsFloat(astype_.dtype) ? astype_.dtype : DataType::kFloat64;
    const double scale = RoundTo(t, scale_.get<double>());
    const double offset = RoundTo(t, offset_.get<double>());
    Bytes out(n * ds);
    for (size_t i = 0; i < n; ++i) {
      const double e = ToDouble(Load(enc.data() + i * es, astype_));
      const double d = RoundTo(t, RoundTo(t, e / scale) + offset);
      Store(out.data() + i * ds, dtype_, Value{Num::kFloat, 0, d});
    }
    return out;
  }

 private:
  Value EncodeOne(const Value& x) const {
    if (x.kind == Num::kFloat) {
      const DataType t = dtype_.dtype;
      const double r = RoundTo(t, RoundTo(t, x.f - RoundTo(t, offset_.get<double>())) *
                                      RoundTo(t, scale_.get<double>()));
      return {Num::kFloat, 0, std::nearbyint(r)};
    }
    Value v = x;  // integers: wrap in the type while the numbers are integers, then float64
    if (offset_.is_number_integer()) {
      v = Wrap(dtype_, v.i - offset_.get<int64_t>());
    } else {
      v = {Num::kFloat, 0, ToDouble(v) - offset_.get<double>()};
    }
    if (v.kind != Num::kFloat && scale_.is_number_integer()) {
      return Wrap(dtype_, v.i * static_cast<uint64_t>(scale_.get<int64_t>()));
    }
    return {Num::kFloat, 0, std::nearbyint(ToDouble(v) * scale_.get<double>())};
  }

  json offset_, scale_;
  Zarr2DType dtype_, astype_;
};

class QuantizeFilter : public Zarr2Filter {
 public:
  QuantizeFilter(int digits, Zarr2DType dtype, Zarr2DType astype)
      : digits_(digits), dtype_(dtype), astype_(astype) {
    // As numcodecs computes it, logarithms and all.
    const double precision = std::pow(10.0, -digits);
    double exp = std::log(precision) / std::log(10.0);
    exp = exp < 0 ? std::floor(exp) : std::ceil(exp);
    const double bits = std::ceil(std::log(std::pow(10.0, -exp)) / std::log(2.0));
    scale_ = std::pow(2.0, bits);
  }
  json ToJson() const override {
    return {{"id", "quantize"},
            {"digits", digits_},
            {"dtype", Zarr2DTypeString(dtype_)},
            {"astype", Zarr2DTypeString(astype_)}};
  }
  std::string Summary() const override {
    return "quantize(" + std::to_string(digits_) + ", " + Zarr2DTypeString(dtype_) + " as " +
           Zarr2DTypeString(astype_) + ")";
  }
  Zarr2DType decoded_type() const override { return dtype_; }
  Zarr2DType encoded_type() const override { return astype_; }

  Bytes Encode(ByteView dec, size_t n) const override {
    CheckSize(dec, n, dtype_, "quantize");
    const size_t ds = ByteSize(dtype_.dtype), es = ByteSize(astype_.dtype);
    const DataType t = dtype_.dtype;
    const double scale = RoundTo(t, scale_);
    Bytes out(n * es);
    for (size_t i = 0; i < n; ++i) {
      const double x = Load(dec.data() + i * ds, dtype_).f;
      const double q = RoundTo(t, std::nearbyint(RoundTo(t, scale * x)) / scale);
      Store(out.data() + i * es, astype_, Value{Num::kFloat, 0, q});
    }
    return out;
  }

  Bytes Decode(ByteView enc, size_t n) const override {
    CheckSize(enc, n, astype_, "quantize");
    const size_t ds = ByteSize(dtype_.dtype), es = ByteSize(astype_.dtype);
    Bytes out(n * ds);
    for (size_t i = 0; i < n; ++i) {
      ConvertElement(enc.data() + i * es, astype_, out.data() + i * ds, dtype_);
    }
    return out;
  }

 private:
  int digits_;
  double scale_;
  Zarr2DType dtype_, astype_;
};

Zarr2DType AsTypeOr(const json& config, Zarr2DType dtype, const std::string& what) {
  if (!config.contains("astype") || config["astype"].is_null()) return dtype;
  return TypeField(config, "astype", what);
}

std::shared_ptr<const Zarr2Filter> MakeFixedScaleOffset(const json& config, const std::string& what,
                                                        std::optional<Zarr2DType> input) {
  Number(config, "offset", what);
  Number(config, "scale", what);
  const Zarr2DType dtype = InputTypeField(config, "dtype", what, input);
  const Zarr2DType astype = AsTypeOr(config, dtype, what);
  if (dtype.dtype == DataType::kBool || astype.dtype == DataType::kBool) {
    throw Unsupported(what + ": fixedscaleoffset on booleans is not supported");
  }
  return std::make_shared<FixedScaleOffsetFilter>(config["offset"], config["scale"], dtype, astype);
}

std::shared_ptr<const Zarr2Filter> MakeQuantize(const json& config, const std::string& what,
                                                std::optional<Zarr2DType> input) {
  const json d = config.value("digits", json());
  if (!d.is_number_integer() || d.get<int64_t>() < -300 || d.get<int64_t>() > 300) {
    throw InvalidArgument(what + ": \"digits\" must be an integer, got " + d.dump());
  }
  const Zarr2DType dtype = InputTypeField(config, "dtype", what, input);
  const Zarr2DType astype = AsTypeOr(config, dtype, what);
  if (!IsFloat(dtype.dtype) || !IsFloat(astype.dtype)) {
    throw InvalidArgument(what + ": quantize takes float types only, got " +
                          Zarr2DTypeString(dtype) + " as " + Zarr2DTypeString(astype));
  }
  return std::make_shared<QuantizeFilter>(d.get<int>(), dtype, astype);
}

}  // namespace

void RegisterNumcodecsScaleFilters() {
  RegisterNumcodecsFilter("fixedscaleoffset", MakeFixedScaleOffset);
  RegisterNumcodecsFilter("quantize", MakeQuantize);
}

}  // namespace volbatch
