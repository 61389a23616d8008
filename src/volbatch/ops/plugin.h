// Operator plugins: operator types that live in their own shared library, loaded on first use
// (core/plugin_library.h says where they are searched for and why).
//
// The `torch` operator links LibTorch (~290 shared libraries, 0.7 s and 150 MiB to map at
// start). Keeping it in `libvolbatch_op_torch.so` means `volbatch info` or a gaussian job
// never pays for it; a job whose [operator] type is "torch" loads it when the job resolves.
//
// A plugin for type T is a file `libvolbatch_op_T.so` exporting
//   extern "C" void volbatch_register_operators();
// which calls RegisterOperator().
#pragma once

#include <string>
#include <vector>

namespace volbatch {

// Operator types for which a plugin file exists (not loaded).
std::vector<std::string> AvailableOperatorPlugins();
// Loads the plugin for `type` once and registers its operators. Returns false if no plugin
// file exists; throws Unsupported naming the file and the loader's message if it cannot load.
bool LoadOperatorPlugin(const std::string& type);

}  // namespace volbatch
