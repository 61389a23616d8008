// The operators volbatch ships. Adding one is a file with a Register...() function and a line
// in builtin.cc.
#pragma once

namespace volbatch {
void RegisterBuiltinOperators();
}  // namespace volbatch
