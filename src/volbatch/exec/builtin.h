#pragma once

namespace volbatch {

// Registers the executors built into volbatch (builtin.cc lists them).
void RegisterBuiltinExecutors();

}  // namespace volbatch
