// The deep-learning operators (`torch`), registered into the operator registry on first use.
#pragma once

namespace volbatch {
// Idempotent; the engine calls it before it builds a job's operator.
void RegisterModelOperators();
}  // namespace volbatch
