// One lock around every libhdf5 call. Debian's libhdf5 (1.10, serial) is not built
// thread-safe (H5is_library_threadsafe says so): two threads inside it at once corrupt its
// global state. A thread-safe build takes its own global lock, and then this one is skipped.
// Either way libhdf5 runs one call at a time per process: reads of different chunks, and
// their decompression inside libhdf5, do not overlap (bench/storage --sections hdf5 measures
// what that costs).
#pragma once

#include <mutex>

namespace volbatch {

// Held for the duration of one or more libhdf5 calls; recursive, so a helper that locks may
// call another that does.
std::unique_lock<std::recursive_mutex> LockHdf5();

// Whether the loaded libhdf5 serializes its own calls.
bool Hdf5IsThreadSafe();

}  // namespace volbatch
