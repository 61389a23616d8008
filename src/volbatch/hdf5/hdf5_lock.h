// One lock around every libhdf5 call where libhdf5 needs it. A libhdf5 built without
// thread safety corrupts its global state when two threads are inside it at once; this lock
// then serializes them. Debian's 1.10.8 is built thread-safe (H5is_library_threadsafe says
// so) and takes its own global lock in every API call, and then this one is skipped. Either
// way libhdf5 runs one call at a time per process, so volbatch decodes chunks outside it where
// it can (hdf5_chunk_reader.h); bench/storage --sections hdf5 measures what that buys.
#pragma once

#include <mutex>

namespace volbatch {

// Held for the duration of one or more libhdf5 calls; recursive, so a helper that locks may
// call another that does.
std::unique_lock<std::recursive_mutex> LockHdf5();

// Whether the loaded libhdf5 serializes its own calls.
bool Hdf5IsThreadSafe();

}  // namespace volbatch
