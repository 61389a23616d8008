// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by the Zarr v3 "crc32c" codec
// and the sharding index. Uses the SSE4.2 crc32 instruction when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace volbatch {

// The CRC-32C of `data`; pass a previous result as `crc` to continue over several pieces.
// Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::span<const std::byte> data, uint32_t crc = 0);

}  // namespace volbatch
