#include "volbatch/ops/builtin.h"

namespace volbatch {

void RegisterIdentityOperator();
void RegisterThresholdOperator();
void RegisterArgmaxOperator();
void RegisterCastOperator();
void RegisterGaussianOperator();
void RegisterDownsampleOperator();
void RegisterUpsampleOperator();

void RegisterBuiltinOperators() {
  RegisterIdentityOperator();
  RegisterThresholdOperator();
  RegisterArgmaxOperator();
  RegisterCastOperator();
  RegisterGaussianOperator();
  RegisterDownsampleOperator();
  RegisterUpsampleOperator();
}

}  // namespace volbatch
