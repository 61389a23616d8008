// The entry point LoadHdf5Api calls when it loads this plugin (store/hdf5_location.h).
#include <hdf5.h>

#include "volbatch/hdf5/hdf5_driver.h"
#include "volbatch/hdf5/hdf5_lock.h"
#include "volbatch/hdf5/hdf5_object.h"
#include "volbatch/hdf5/hdf5_object_attributes.h"
#include "volbatch/hdf5/hdf5_tree.h"

extern "C" __attribute__((visibility("default"))) void volbatch_register_hdf5() {
  volbatch::LockHdf5();  // this thread's libhdf5 error printing off (hdf5_lock.cc)
  volbatch::RegisterHdf5Api({
      .open = volbatch::OpenHdf5Driver,
      .attributes =
          [](const volbatch::Hdf5Location& where) {
            volbatch::Hdf5Object o = volbatch::OpenHdf5Object(where);
            return volbatch::ReadHdf5Attributes(o.object.get(), where.Describe());
          },
      .group_tree = volbatch::Hdf5GroupTree,
  });
}
