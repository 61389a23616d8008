#include "volbatch/store/formats.h"

namespace volbatch {

void RegisterBuiltinFormats() {
  // Probe order matters only for directories holding two formats' metadata at once.
  RegisterZarr3Format();
  RegisterZarr2Format();
  RegisterN5Format();
}

}  // namespace volbatch
