// libFuzzer target: the zarr3 metadata parser, fed a hostile zarr.json (see metadata_fuzz.h for
// what is checked once an array opens).
#include <cstddef>
#include <cstdint>

#include "fuzz/metadata_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volbatch::fuzz::FuzzMetadata("zarr3", "zarr.json", data, size);
  return 0;
}
