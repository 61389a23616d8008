// Exclusion for the read-modify-write of one storage unit (a chunk, or a shard) across the
// threads of a process and across processes on one filesystem: an OFD byte-range lock
// (fcntl F_OFD_SETLKW) on byte <unit's linear index> of `<array directory>/.volbatch.lock`.
//
// Each UnitLock opens the file itself, so it has its own open file description: two threads of
// one process exclude each other exactly as two processes do, and the lock goes away with the
// descriptor, also when its process dies. The file is created on the first partial write, is
// empty (locks need no bytes), and one per array whatever the number of units.
// Cost: open + fcntl + close, about 10 us, per unit a write covers only in part; writes of
// whole units take no lock (their rename is atomic, and the last one wins). Needs a filesystem
// with POSIX locks (local ones, NFSv4, Lustre mounted with -o flock).
#pragma once

#include <cstdint>
#include <string>

namespace volbatch {

inline constexpr const char* kUnitLockFile = ".volbatch.lock";

class UnitLock {
 public:
  // Blocks until the unit is ours. Throws IoError naming the lock file.
  UnitLock(const std::string& array_dir, uint64_t unit);
  ~UnitLock();
  UnitLock(const UnitLock&) = delete;
  UnitLock& operator=(const UnitLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace volbatch
