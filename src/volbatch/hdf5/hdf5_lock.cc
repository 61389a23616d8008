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
  if (Hdf5IsThreadSafe()) return std::unique_lock<std::recursive_mutex>();
  return std::unique_lock<std::recursive_mutex>(mutex);
}

}  // namespace volbatch
