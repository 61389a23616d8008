// libFuzzer target: the zarr2 metadata parser, fed a hostile .zarray (see metadata_fuzz.h for
// what is checked once an array opens).
#include <cstddef>
#include <cstdint>

#include "fuzz/metadata_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  volbatch::fuzz::FuzzMetadata("zarr2", ".zarray", data, size);
  return 0;
}
