#pragma once

namespace volbatch {
// Registers the formats shipped with volbatch, one line each in formats.cc.
void RegisterBuiltinFormats();
void RegisterZarr3Format();
void RegisterZarr2Format();
void RegisterN5Format();
}  // namespace volbatch
