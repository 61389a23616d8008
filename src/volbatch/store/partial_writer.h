// Writers of parts of units on an object store that has no conditional writes (s3rver, older
// Ceph, MinIO before 2024): two processes reading, modifying and writing one chunk or shard
// would lose one's update, and such a store offers nothing to lock with. So the first partial
// write of a dataset handle there puts a marker object in the array,
//   .volbatch-partial-writer.<host>.<pid>.<start ms>
// and lists the others: a live one from another process refuses this writer with an error
// naming it. A marker is renewed (a new name, the old erased) every kRenew while its writer
// writes, removed when the handle goes, and counts as gone kStale after its last renewal, or
// at once when its pid no longer exists on this host. Two writers that start together both
// see each other and both refuse: safe, never silent. Cost: a PUT and a LIST on the first
// partial write, a PUT and a DELETE per kRenew after.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "volbatch/kvstore/kvstore.h"

namespace volbatch {

class PartialWriterClaim {
 public:
  static constexpr std::chrono::minutes kRenew{5};
  static constexpr std::chrono::minutes kStale{30};

  PartialWriterClaim(std::shared_ptr<KvStore> kv, std::string what)
      : kv_(std::move(kv)), what_(std::move(what)) {}
  ~PartialWriterClaim();
  PartialWriterClaim(const PartialWriterClaim&) = delete;
  PartialWriterClaim& operator=(const PartialWriterClaim&) = delete;

  // Before each partial write: claims on the first call (throws FailedPrecondition naming the
  // other writer's marker if there is a live one), renews when due.
  void Hold();

 private:
  std::string Marker(int64_t ms) const;

  std::shared_ptr<KvStore> kv_;
  std::string what_;  // the array, for messages
  std::mutex mu_;
  std::string key_;  // our marker; empty until claimed
  std::chrono::steady_clock::time_point renewed_;
};

}  // namespace volbatch
