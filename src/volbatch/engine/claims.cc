#include "volbatch/engine/claims.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// Age of a file's mtime in seconds; nullopt if it does not exist.
std::optional<double> AgeSeconds(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec - st.st_mtim.tv_sec) +
         static_cast<double>(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
}

// The holder recorded in a claim file; nullopt if it is gone.
std::optional<ClaimHolder> ReadClaim(const std::string& path, Index block) {
  const std::optional<double> age = AgeSeconds(path);
  if (!age) return std::nullopt;
  ClaimHolder h;
  h.block = block;
  h.age_s = *age;
  std::ifstream in(path);
  in >> h.worker >> h.pid >> h.host >> h.time_ms;
  return h;
}

}  // namespace

std::vector<ClaimHolder> ListClaims(const std::string& jobdir) {
  std::vector<ClaimHolder> claims;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(jobdir) / "claims", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    constexpr std::string_view kSuffix = ".claim";
    if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) continue;  // e.g. ".stale."
    const std::string digits = name.substr(0, name.size() - kSuffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    if (auto h = ReadClaim(it->path().string(), std::stoll(digits))) claims.push_back(*h);
  }
  return claims;
}

ClaimBoard::ClaimBoard(std::string jobdir, int worker, std::chrono::milliseconds lease)
    : dir_((fs::path(jobdir) / "claims").string()), worker_(worker), lease_(lease) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError(dir_ + ": cannot create the claims directory: " + ec.message());
}

std::string ClaimBoard::Path(Index block) const {
  return dir_ + "/" + std::to_string(block) + ".claim";
}

// Names the temporaries of every board in this process apart.
std::atomic<uint64_t> next_temporary{0};

bool ClaimBoard::Create(Index block) {
  const std::string path = Path(block);
  // The claim appears with its content or not at all: written to a temporary, then linked to
  // its name (link fails with EEXIST as O_EXCL would), so `volbatch status` never reads a
  // claim whose holder is not written yet. A crash leaves at most the temporary, which is not
  // a claim (no ".claim" suffix) and goes with the claims directory's sweep.
  const std::string tmp = dir_ + "/." + std::to_string(block) + "." + std::to_string(::getpid()) +
                          "." + std::to_string(next_temporary++) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(tmp + ": cannot create a claim: " + ErrnoText(errno));
  const std::string line = std::to_string(worker_) + " " + std::to_string(::getpid()) + " " +
                           HostName() + " " + std::to_string(NowMs()) + "\n";
  const ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    ::unlink(tmp.c_str());
    throw IoError(tmp + ": cannot write a claim");
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (err == EEXIST) return false;
    throw IoError(path + ": cannot create a claim: " + ErrnoText(err));
  }
  std::lock_guard lock(mu_);
  held_.insert(block);
  return true;
}

bool ClaimBoard::TryClaim(Index block) {
  {
    std::lock_guard lock(mu_);
    if (held_.count(block)) return true;
  }
  if (Create(block)) return true;
  const std::string path = Path(block);
  const std::optional<double> age = AgeSeconds(path);
  if (!age) return Create(block);  // released meanwhile
  if (*age * 1000.0 < static_cast<double>(lease_.count())) return false;
  // Stale: move it out of the way under a name only this process uses; the loser of a race
  // finds nothing to rename.
  const std::string aside =
      path + ".stale." + std::to_string(worker_) + "." + std::to_string(::getpid());
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw IoError(path + ": cannot take over a stale claim: " + ErrnoText(errno));
  }
  // The renamed file may be a fresh claim someone made between our stat and rename: only a
  // stale one is ours to drop. Put a fresh one back (rename fails if it exists again).
  const std::optional<double> aside_age = AgeSeconds(aside);
  if (aside_age && *aside_age * 1000.0 < static_cast<double>(lease_.count())) {
    if (::link(aside.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      ::unlink(aside.c_str());
      throw IoError(path + ": cannot restore a live claim: " + ErrnoText(errno));
    }
    ::unlink(aside.c_str());
    return false;
  }
  ::unlink(aside.c_str());
  return Create(block);
}

void ClaimBoard::Release(Index block) {
  {
    std::lock_guard lock(mu_);
    if (!held_.erase(block)) return;
  }
  // Taken over while this worker was stopped? Then the file is another's: leave it.
  const std::string mine = std::to_string(worker_) + " " + std::to_string(::getpid()) + " ";
  std::ifstream in(Path(block));
  std::string line;
  std::getline(in, line);
  if (!in || line.rfind(mine, 0) != 0) return;
  if (::unlink(Path(block).c_str()) != 0 && errno != ENOENT) {
    throw IoError(Path(block) + ": cannot release a claim: " + ErrnoText(errno));
  }
}

void ClaimBoard::Heartbeat() {
  std::lock_guard lock(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (::utimensat(AT_FDCWD, Path(*it).c_str(), nullptr, 0) != 0 && errno == ENOENT) {
      it = held_.erase(it);  // taken over while we were stopped: no longer ours
    } else {
      ++it;
    }
  }
}

std::set<Index> ClaimBoard::Held() const {
  std::lock_guard lock(mu_);
  return held_;
}

size_t ClaimBoard::SweepStale() const {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string path = it->path().string();
    const std::string name = it->path().filename().string();
    const bool leftover = name.find(".stale.") != std::string::npos;
    const std::optional<double> age = AgeSeconds(path);
    if (!age) continue;
    if (leftover || *age * 1000.0 >= static_cast<double>(lease_.count())) {
      if (::unlink(path.c_str()) == 0) ++removed;
    }
  }
  return removed;
}

std::optional<ClaimHolder> ClaimBoard::Holder(Index block) const {
  return ReadClaim(Path(block), block);
}

}  // namespace volbatch
