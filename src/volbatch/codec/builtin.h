#pragma once

namespace volbatch {
// Registers every codec shipped with volbatch (one line per codec in builtin.cc).
void RegisterBuiltinCodecs();
}  // namespace volbatch
