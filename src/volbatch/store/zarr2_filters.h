// The array filters of a Zarr v2 "filters" list that volbatch understands (numcodecs "delta"
// and "astype"). Each works on a chunk's flat element sequence (C or F order alike), typed by
// its own numpy dtype strings, exactly as numcodecs reinterprets the buffer it is given.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "volbatch/codec/codec.h"
#include "volbatch/store/zarr2_dtype.h"

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
};

// True for the filter ids MakeZarr2Filter knows.
bool IsZarr2ArrayFilter(const std::string& id);
// Builds a filter from its numcodecs configuration; `what` names the field for errors
// ("filters[0] in /data/a.zarr/.zarray").
std::shared_ptr<const Zarr2Filter> MakeZarr2Filter(const nlohmann::json& config,
                                                   const std::string& what);

// numpy's scalar conversions (astype), exposed for tests: converts one element.
void ConvertElement(const std::byte* src, Zarr2DType src_type, std::byte* dst, Zarr2DType dst_type);
// IEEE half <-> double with round-to-nearest-even, as numpy converts.
uint16_t DoubleToHalf(double d);
double HalfToDouble(uint16_t h);

}  // namespace volbatch
