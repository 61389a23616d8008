#include "volbatch/hdf5/hdf5_handle.h"

namespace volbatch {

std::string Hdf5ErrorText() {
  auto lock = LockHdf5();
  std::string text;
  // Walked upward, the last message is the outermost one ("can't open object"), the first the
  // cause; a user gets the cause ("file signature not found", "object not found").
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &text);
  return text;
}

}  // namespace volbatch
