#include "volbatch/store/partial_writer.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

constexpr std::string_view kPrefix = ".volbatch-partial-writer.";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  std::string h = name;
  for (char& c : h) {
    if (c == '.' || c == '/') c = '_';
  }
  return h.empty() ? "host" : h;
}

struct WriterMarker {
  std::string host;
  long pid = 0;
  int64_t ms = 0;
};

// "<prefix><host>.<pid>.<ms>"; nullopt for another name.
std::optional<WriterMarker> ParseMarker(std::string_view key) {
  if (!key.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = key.substr(kPrefix.size());
  const size_t b = rest.rfind('.');
  if (b == std::string_view::npos || b == 0) return std::nullopt;
  const size_t a = rest.rfind('.', b - 1);
  if (a == std::string_view::npos || a == 0) return std::nullopt;
  try {
    return WriterMarker{std::string(rest.substr(0, a)),
                        std::stol(std::string(rest.substr(a + 1, b - a - 1))),
                        std::stoll(std::string(rest.substr(b + 1)))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool Live(const WriterMarker& m, int64_t now_ms) {
  if (now_ms - m.ms > std::chrono::milliseconds(PartialWriterClaim::kStale).count()) return false;
  if (m.host == Host() && ::kill(static_cast<pid_t>(m.pid), 0) != 0 && errno == ESRCH) {
    return false;
  }
  return true;
}

}  // namespace

std::string PartialWriterClaim::Marker(int64_t ms) const {
  return std::string(kPrefix) + Host() + "." + std::to_string(::getpid()) + "." +
         std::to_string(ms);
}

void PartialWriterClaim::Hold() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!key_.empty() && now - renewed_ < kRenew) return;
  const std::string old = key_;
  key_ = Marker(NowMs());
  kv_->Set(key_, {});
  renewed_ = now;
  if (!old.empty()) {
    kv_->Erase(old);
    return;
  }
  const int64_t now_ms = NowMs();
  for (const std::string& k : kv_->List(std::string(kPrefix))) {
    const std::optional<WriterMarker> m = ParseMarker(k);
    if (k == key_ || !m || !Live(*m, now_ms)) continue;
    if (m->host == Host() && m->pid == ::getpid()) continue;  // another handle of ours
    kv_->Erase(key_);
    key_.clear();
    throw FailedPrecondition(
        what_ + ": another process (" + m->host + " pid " + std::to_string(m->pid) +
        ") writes parts of this array's chunks, and this object store has no conditional "
        "writes to merge two such writers safely: run one writer at a time, or write whole "
        "chunks (a stale marker " +
        kv_->Describe(k) + " goes after " + std::to_string(kStale.count()) +
        " minutes, or delete it)");
  }
}

PartialWriterClaim::~PartialWriterClaim() {
  if (key_.empty()) return;
  try {
    kv_->Erase(key_);
  } catch (const Error&) {
    // Gone with the store: the marker goes stale on its own.
  }
}

}  // namespace volbatch
