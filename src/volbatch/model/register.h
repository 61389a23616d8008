// The deep-learning operators (`torch`). This layer is built as the operator plugin
// libvolbatch_op_torch.so (see ops/plugin.h), so only jobs that use a model load LibTorch.
#pragma once

namespace volbatch {
// Idempotent: registers "torch" into the operator registry.
void RegisterModelOperators();
}  // namespace volbatch

// The plugin's entry point, found by LoadOperatorPlugin with dlsym.
extern "C" void volbatch_register_operators();
