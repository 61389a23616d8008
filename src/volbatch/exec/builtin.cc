#include "volbatch/exec/builtin.h"

namespace volbatch {

void RegisterLocalExecutor();
void RegisterProcessesExecutor();

void RegisterBuiltinExecutors() {
  RegisterLocalExecutor();
  RegisterProcessesExecutor();
}

}  // namespace volbatch
