#include "volbatch/exec/builtin.h"

namespace volbatch {

void RegisterLocalExecutor();
void RegisterProcessesExecutor();
void RegisterSlurmExecutor();
void RegisterK8sExecutor();
void RegisterLsfExecutor();
void RegisterSshExecutor();

void RegisterBuiltinExecutors() {
  RegisterLocalExecutor();
  RegisterProcessesExecutor();
  RegisterSlurmExecutor();
  RegisterK8sExecutor();
  RegisterLsfExecutor();
  RegisterSshExecutor();
}

}  // namespace volbatch
