// Hid: an owned libhdf5 identifier (file, dataset, group, dataspace, type, property list,
// attribute), closed under the HDF5 lock when it goes out of scope.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>

#include "volbatch/hdf5/hdf5_lock.h"

namespace volbatch {

class Hid {
 public:
  using Closer = herr_t (*)(hid_t);
  Hid() = default;
  Hid(hid_t id, Closer close) : id_(id), close_(close) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  ~Hid() { Reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  void Reset() {
    if (id_ >= 0 && close_) {
      auto lock = LockHdf5();
      close_(id_);
    }
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// The innermost message on this thread's HDF5 error stack ("" if none), for error texts:
// libhdf5's own printing is turned off (register.cc).
std::string Hdf5ErrorText();

}  // namespace volbatch
