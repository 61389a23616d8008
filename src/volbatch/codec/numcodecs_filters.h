// numcodecs' array filters (delta, astype, bitround, fixedscaleoffset, quantize, packbits), as a
// Zarr v2 "filters" list and Zarr v3's "numcodecs.<id>" array->array codecs name them. Each
// works on a chunk's flat element sequence (C or F order alike), typed by its own numpy dtype
// strings, exactly as numcodecs reinterprets the buffer it is given. Adding one is a file with
// its class and a Register...() function calling RegisterNumcodecsFilter, and a line in
// builtin.cc.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "volbatch/codec/codec.h"
#include "volbatch/codec/numpy_dtype.h"

namespace volbatch {

class Zarr2Filter {
 public:
  virtual ~Zarr2Filter() = default;
  // The numcodecs configuration ({"id": "delta", ...}).
  virtual nlohmann::json ToJson() const = 0;
  // One word for summaries, e.g. "delta(<i4 as <i2)".
  virtual std::string Summary() const = 0;
  virtual Zarr2DType decoded_type() const = 0;
  virtual Zarr2DType encoded_type() const = 0;
  // `encoded` must hold exactly `n` elements of encoded_type() (else DataLoss); returns `n`
  // elements of decoded_type().
  virtual Bytes Decode(ByteView encoded, size_t n) const = 0;
  virtual Bytes Encode(ByteView decoded, size_t n) const = 0;
  // The bytes Encode makes of `n` elements (packbits: a header byte and n bits).
  virtual size_t EncodedBytes(size_t n) const { return n * ByteSize(encoded_type().dtype); }
};
using NumcodecsFilter = Zarr2Filter;

// Builds a filter from its numcodecs configuration (the "id" field, if any, is ignored);
// errors name `what`. `input` is the type of the elements the filter encodes when known (the
// array's, or the previous filter's): bitround takes its type from it, as numcodecs takes it
// from the buffer; nullopt only checks the configuration.
using NumcodecsFilterFactory = std::function<std::shared_ptr<const Zarr2Filter>(
    const nlohmann::json& config, const std::string& what, std::optional<Zarr2DType> input)>;
// Registers filter `id` for Zarr v2 and, as "numcodecs.<id>", as a Zarr v3 array->array codec.
void RegisterNumcodecsFilter(const std::string& id, NumcodecsFilterFactory factory);

// True for the filter ids MakeZarr2Filter knows.
bool IsZarr2ArrayFilter(const std::string& id);
// Builds a filter from its numcodecs configuration; `what` names the field for errors
// ("filters[0] in /data/a.zarr/.zarray"); `input` as for NumcodecsFilterFactory.
std::shared_ptr<const Zarr2Filter> MakeZarr2Filter(const nlohmann::json& config,
                                                   const std::string& what,
                                                   std::optional<Zarr2DType> input = std::nullopt);

// numpy's scalar conversions (astype), exposed for tests: converts one element.
void ConvertElement(const std::byte* src, Zarr2DType src_type, std::byte* dst, Zarr2DType dst_type);
// IEEE half <-> double with round-to-nearest-even, as numpy converts.
uint16_t DoubleToHalf(double d);
double HalfToDouble(uint16_t h);

}  // namespace volbatch
