#include "volbatch/hdf5/hdf5_lock.h"

#include <hdf5.h>

namespace volbatch {

bool Hdf5IsThreadSafe() {
  static const bool safe = [] {
    hbool_t ts = 0;
    return H5is_library_threadsafe(&ts) >= 0 && ts;
  }();
  return safe;
}

std::unique_lock<std::recursive_mutex> LockHdf5() {
  static std::recursive_mutex mutex;
  std::unique_lock<std::recursive_mutex> lock;
  if (!Hdf5IsThreadSafe()) lock = std::unique_lock<std::recursive_mutex>(mutex);
  // libhdf5 prints its error stack to stderr unless told not to, and a thread-safe build keeps
  // that setting per thread: every thread that calls it says so once. volbatch reports one
  // line itself (Hdf5ErrorText).
  thread_local const bool quiet = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
  (void)quiet;
  return lock;
}

}  // namespace volbatch
