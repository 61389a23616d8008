// Plugin libraries: parts of volbatch in their own shared library, opened on first use, so
// that a process that does not need them never loads them nor their dependencies (LibTorch,
// Open MPI, libcurl and its TLS stack). Each costs a process start tens of metadata calls and
// milliseconds; 256 workers on a shared filesystem pay it 256 times.
//
// A plugin file is searched for in $VOLBATCH_PLUGIN_PATH (a ':' list), then beside the running
// executable, then in <exe dir>/../lib/volbatch, then beside libvolbatch_core.so itself (a
// pip-installed package, where the executable is python).
#pragma once

#include <string>
#include <vector>

namespace volbatch {

// The directories searched, in order.
std::vector<std::string> PluginDirs();

// Opens the shared library `file` from the first of PluginDirs() that has it; the handle
// stays open for the life of the process. Returns nullptr if no directory has it; throws
// Unsupported naming `what`, the file and the loader's message if it cannot load.
void* OpenPluginLibrary(const std::string& file, const std::string& what);

// OpenPluginLibrary, then calls its `extern "C" void ENTRY()` (which registers what the
// plugin provides). Once per file: later calls return the first call's answer. False if no
// directory has the file; throws Unsupported if it cannot load or has no ENTRY.
bool LoadPlugin(const std::string& file, const std::string& entry, const std::string& what);

}  // namespace volbatch
