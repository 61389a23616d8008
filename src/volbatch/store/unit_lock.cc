#include "volbatch/store/unit_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "volbatch/core/error.h"

namespace volbatch {

UnitLock::UnitLock(const std::string& array_dir, uint64_t unit) {
  const std::string path = array_dir + "/" + kUnitLockFile;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError(path + ": cannot open the write lock: " + ErrnoText(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = static_cast<off_t>(unit % static_cast<uint64_t>(LLONG_MAX));
  lock.l_len = 1;
  while (::fcntl(fd_, F_OFD_SETLKW, &lock) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw IoError(path + ": cannot lock unit " + std::to_string(unit) + ": " + ErrnoText(err));
  }
}

UnitLock::~UnitLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace volbatch
