// Claims: which worker has a block in hand, so that N workers sharing a job directory split
// the blocks between them and take over the blocks of one that died.
//
// Layout: JOBDIR/claims/<block>.claim, one small file per block IN FLIGHT (never per block of
// the job: at most workers x blocks_in_flight files), created exclusively (written to a
// temporary, then link()ed to its name, which fails if it exists: of two workers asking at
// once exactly one gets it, and the claim never appears without its content) holding one line
//   "<worker> <pid> <host> <unix ms>\n".
// Its mtime is the heartbeat: the holder touches every claim it holds every lease/4. A claim
// whose mtime is older than the lease is stale (its holder is dead or cut off); a worker takes
// it over by renaming it to a name of its own (rename is atomic: of two takers one succeeds,
// the other finds it gone) and then creating it anew. A taken-over block is computed twice
// at worst, which writes the same bytes (DESIGN invariant 6).
//
// Cost: a create, link and unlink of the temporary, and one unlink per block, one utimensat per held block per heartbeat.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volbatch/core/box.h"

namespace volbatch {

struct ClaimHolder {
  Index block = -1;
  int worker = -1;
  long pid = 0;
  std::string host;
  uint64_t time_ms = 0;
  double age_s = 0;  // since the last heartbeat
};

// Every claim in JOBDIR/claims (blocks in flight), in no particular order; none if the
// directory does not exist.
std::vector<ClaimHolder> ListClaims(const std::string& jobdir);

class ClaimBoard {
 public:
  ClaimBoard(std::string jobdir, int worker, std::chrono::milliseconds lease);
  // True if this worker now holds `block` (a fresh claim, or a stale one taken over). False
  // if another worker's claim is live.
  bool TryClaim(Index block);
  // Drops the claim (after the block's ledger record is durable, or when abandoning it).
  void Release(Index block);
  // Refreshes the mtime of every claim held; a claim that vanished (taken over while this
  // worker was stopped) is forgotten.
  void Heartbeat();
  std::set<Index> Held() const;
  // Removes stale claim files and any leftovers of takeovers (a sweep at the start of a run).
  // Returns how many were removed.
  size_t SweepStale() const;
  // Who holds `block`, if anyone (for status).
  std::optional<ClaimHolder> Holder(Index block) const;
  const std::string& dir() const { return dir_; }
  std::chrono::milliseconds lease() const { return lease_; }

 private:
  std::string Path(Index block) const;
  bool Create(Index block);
  std::string dir_;
  int worker_;
  std::chrono::milliseconds lease_;
  mutable std::mutex mu_;
  std::set<Index> held_;
};

}  // namespace volbatch
