#include "volbatch/exec/builtin.h"

namespace volbatch {

void RegisterLocalExecutor();
void RegisterProcessesExecutor();
void RegisterSlurmExecutor();
void RegisterMpiExecutor();
void RegisterK8sExecutor();
void RegisterLsfExecutor();
void RegisterSshExecutor();

void RegisterBuiltinExecutors() {
  RegisterLocalExecutor();
  RegisterProcessesExecutor();
  RegisterSlurmExecutor();
  RegisterMpiExecutor();
  RegisterK8sExecutor();
  RegisterLsfExecutor();
  RegisterSshExecutor();
}

}  // namespace volbatch
