// Operator plugins: operator types that live in their own shared library, loaded on first use.
//
// The `torch` operator links LibTorch (~290 shared libraries, 0.7 s and 150 MiB to map at
// start). Keeping it in `libvolbatch_op_torch.so` means `volbatch info` or a gaussian job
// never pays for it; a job whose [operator] type is "torch" loads it when the job resolves.
//
// A plugin for type T is a file `libvolbatch_op_T.so` exporting
//   extern "C" void volbatch_register_operators();
// which calls RegisterOperator(). It is searched for in $VOLBATCH_PLUGIN_PATH (a ':' list),
// then beside the running executable, then in <exe dir>/../lib/volbatch, then beside
// libvolbatch_ops.so itself (a pip-installed package, where the executable is python).
#pragma once

#include <string>
#include <vector>

namespace volbatch {

// The directories searched, in order.
std::vector<std::string> OperatorPluginDirs();
// Operator types for which a plugin file exists (not loaded).
std::vector<std::string> AvailableOperatorPlugins();
// Opens the shared library `file` (a plugin of any kind: operators, the MPI worker) from the
// first of OperatorPluginDirs() that has it; the handle stays open for the life of the
// process. Returns nullptr if no directory has it; throws Unsupported naming `what`, the file
// and the loader's message if it cannot load.
void* OpenPluginLibrary(const std::string& file, const std::string& what);
// Loads the plugin for `type` once and registers its operators. Returns false if no plugin
// file exists; throws Unsupported naming the file and the loader's message if it cannot load.
bool LoadOperatorPlugin(const std::string& type);

}  // namespace volbatch
