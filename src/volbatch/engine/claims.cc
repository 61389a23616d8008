#include "volbatch/engine/claims.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kGenerationMagic = "volbatch-claims 1 ";

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

const std::string& HostName() {
  static const std::string host = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return std::string("unknown");
    std::string h = buf;
    for (char& c : h) {
      if (c == '/' || c == ' ') c = '_';
    }
    return h;
  }();
  return host;
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

// A small file's content; nullopt if it does not exist.
std::optional<std::string> ReadSmall(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw IoError(path + ": cannot read: " + ErrnoText(errno));
  }
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw IoError(path + ": cannot read: " + ErrnoText(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

// Names the temporaries of every board in this process apart.
std::atomic<uint64_t> next_temporary{0};

std::string Temporary(const std::string& dir, const std::string& name) {
  return dir + "/." + name + "." + std::to_string(::getpid()) + "." +
         std::to_string(next_temporary++) + ".tmp";
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t at = 0;
  while (at < data.size()) {
    const ssize_t n = ::write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw IoError(path + ": cannot write: " + ErrnoText(err));
    }
    at += static_cast<size_t>(n);
  }
}

// Writes `data` to a new temporary in `dir`; returns its path. Claims need no fsync: after a
// power loss no worker is live, and the next `volbatch run` starts a new generation.
std::string WriteTemporary(const std::string& dir, const std::string& name,
                           const std::string& data) {
  const std::string tmp = Temporary(dir, name);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(tmp + ": cannot create: " + ErrnoText(errno));
  WriteAll(fd, data, tmp);
  ::close(fd);
  return tmp;
}

// Creates dir/name holding `data` unless it exists (false then). The name never appears
// without its content: a temporary is linked to it.
bool CreateExclusive(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string tmp = WriteTemporary(dir, name, data);
  const std::string path = dir + "/" + name;
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  if (err == EEXIST) return false;
  throw IoError(path + ": cannot create: " + ErrnoText(err));
}

// Replaces dir/name with `data` (atomic for readers).
void Replace(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string tmp = WriteTemporary(dir, name, data);
  const std::string path = dir + "/" + name;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot replace: " + ErrnoText(err));
  }
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.') names.push_back(std::move(name));
  }
  return names;
}

std::string LaneName(int lane) { return std::to_string(lane); }
std::string RunName(int lane, Index start) { return LaneName(lane) + "." + std::to_string(start); }

// "W.P.HOST" -> worker, pid, host (the host may hold dots).
bool ParseHolderName(const std::string& name, ClaimHolder& h) {
  const size_t a = name.find('.');
  const size_t b = a == std::string::npos ? a : name.find('.', a + 1);
  if (b == std::string::npos) return false;
  try {
    h.worker = std::stoi(name.substr(0, a));
    h.pid = std::stol(name.substr(a + 1, b - a - 1));
  } catch (const std::exception&) {
    return false;
  }
  h.host = name.substr(b + 1);
  h.host = h.host.substr(0, h.host.rfind('~'));  // W.P.H~K: a takeover of that process
  h.file = name;
  return true;
}

// Fills `h` from a holder file's lines ("holder", "from", "run"); `who` gets the holder line's
// identity (whose runs "from" means), or stays as it is without one.
void ParseHolderContent(const std::string& text, ClaimHolder& h, ClaimHolder* who) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string kind;
    f >> kind;
    if (kind == "holder" && who) {
      f >> who->worker >> who->pid >> who->host;
    } else if (kind == "from") {
      int lane = -1;
      Index from = -1;
      if (f >> lane >> from && lane >= 0 && from >= 0) h.lanes.emplace_back(lane, from);
    } else if (kind == "run") {
      ClaimRun r;
      if (f >> r.lane >> r.start >> r.end && r.lane >= 0 && r.start >= 0 && r.end > r.start) {
        h.runs.push_back(r);
      }
    }
  }
}

bool ProcessAlive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH);
}

// Whether a holder stands for a live worker: its process runs (on this host), or its
// heartbeat is younger than `live_within`.
bool HolderLive(const ClaimHolder& h, double live_within_s) {
  if (h.host == HostName() && !ProcessAlive(h.pid)) return false;
  return h.age_s < live_within_s;
}

std::string EncodeGeneration(Index blocks, const LedgerState& state) {
  std::string out = std::string(kGenerationMagic) + std::to_string(blocks) + "\n";
  std::string bits(static_cast<size_t>((blocks + 7) / 8), '\0');
  for (const auto& [b, r] : state.latest) {
    if (r.status == BlockStatus::kDone && b >= 0 && b < blocks) {
      bits[static_cast<size_t>(b / 8)] |= static_cast<char>(1 << (b % 8));
    }
  }
  return out + bits;
}

// The done bitmap of a generation file for `blocks` blocks; nullopt if it is for another job.
std::optional<std::vector<bool>> DecodeGeneration(const std::string& data, Index blocks,
                                                  const std::string& file) {
  const size_t eol = data.find('\n');
  if (data.rfind(kGenerationMagic, 0) != 0 || eol == std::string::npos) {
    throw DataLoss(file +
                   ": not a volbatch claims generation; remove it (volbatch run starts a "
                   "new one)");
  }
  Index declared = -1;
  try {
    declared = std::stoll(data.substr(kGenerationMagic.size(), eol - kGenerationMagic.size()));
  } catch (const std::exception&) {
  }
  if (declared != blocks) return std::nullopt;
  const size_t want = static_cast<size_t>((blocks + 7) / 8);
  if (data.size() - eol - 1 != want) {
    throw DataLoss(file + ": the done bitmap has " + std::to_string(data.size() - eol - 1) +
                   " bytes, expected " + std::to_string(want));
  }
  std::vector<bool> done(static_cast<size_t>(blocks));
  const char* bits = data.data() + eol + 1;
  for (Index b = 0; b < blocks; ++b) {
    done[static_cast<size_t>(b)] = (static_cast<unsigned char>(bits[b / 8]) >> (b % 8)) & 1;
  }
  return done;
}

void MakeDirectories(const std::string& dir) {
  for (const char* sub : {"runs", "ends", "holders"}) {
    const std::string path = dir + "/" + sub;
    if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) continue;
    if (errno == ENOENT) {
      std::error_code ec;
      fs::create_directories(path, ec);
      if (!ec) continue;
    }
    throw IoError(path + ": cannot create the claims directory: " + ErrnoText(errno));
  }
}

}  // namespace

Index Lanes::Length(int lane) const {
  if (lane < 0 || lane >= count) return 0;
  const Index begin = lane * Stride();
  return std::max<Index>(0, std::min(blocks, begin + Stride()) - begin);
}

std::vector<ClaimHolder> ListHolders(const std::string& jobdir) {
  const std::string dir = (fs::path(jobdir) / "claims" / "holders").string();
  std::vector<ClaimHolder> holders;
  for (const std::string& name : Names(dir)) {
    ClaimHolder h;
    if (!ParseHolderName(name, h)) continue;
    const std::string path = dir + "/" + name;
    const std::optional<double> age = AgeSeconds(path);
    const std::optional<std::string> text = ReadSmall(path);
    if (!age || !text) continue;  // gone meanwhile
    h.age_s = *age;
    ParseHolderContent(*text, h, nullptr);
    holders.push_back(std::move(h));
  }
  return holders;
}

void RemoveClaims(const std::string& jobdir) {
  const fs::path dir = fs::path(jobdir) / "claims";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code rm;
    fs::remove_all(it->path(), rm);
  }
}

bool StartClaimGeneration(const std::string& jobdir, Index blocks, const LedgerState& done,
                          std::chrono::milliseconds live_within) {
  const double live_s = std::chrono::duration<double>(live_within).count();
  for (const ClaimHolder& h : ListHolders(jobdir)) {
    if (HolderLive(h, live_s)) return false;
  }
  RemoveClaims(jobdir);
  const std::string dir = (fs::path(jobdir) / "claims").string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir + ": cannot create the claims directory: " + ec.message());
  Replace(dir, "generation", EncodeGeneration(blocks, done));
  return true;
}

ClaimBoard::ClaimBoard(std::string jobdir, int worker, int of, Index blocks,
                       std::chrono::milliseconds lease)
    : dir_((fs::path(jobdir) / "claims").string()), worker_(worker), lease_(lease) {
  if (of < 1 || worker < 0) {
    throw InvalidArgument("worker " + std::to_string(worker) + " of " + std::to_string(of) +
                          ": need 0 <= worker and of >= 1");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError(dir_ + ": cannot create the claims directory: " + ec.message());
  MakeDirectories(dir_);
  // The same three fields name the holder file and, space-separated, fill its "holder" line
  // and each run file it claims.
  holder_name_ = std::to_string(worker) + "." + std::to_string(::getpid()) + "." + HostName();
  identity_ = std::to_string(worker) + " " + std::to_string(::getpid()) + " " + HostName();
  JoinGeneration(blocks);
  JoinLanes(of);
}

ClaimBoard::~ClaimBoard() {
  std::lock_guard lock(mu_);
  leaving_ = true;
  // Files with runs still in hand (the pipeline threw) stay: this process is about to exit, so
  // their runs go to another worker at once (same host) or after the lease.
  for (const std::string& f : std::set<std::string>(files_)) DropIfEmptyLocked(f);
}

void ClaimBoard::JoinGeneration(Index blocks) {
  const std::string file = dir_ + "/generation";
  if (const std::optional<std::string> data = ReadSmall(file)) {
    if (auto done = DecodeGeneration(*data, blocks, file)) {
      done_ = std::move(*done);
      return;
    }
    throw FailedPrecondition(file +
                             ": the claims are for a job of another block count; run "
                             "`volbatch run` on the job again to start over");
  }
  // No generation (the job was prepared by hand, or its claims were removed): start one from
  // the ledgers. Of several workers doing this at once, one file wins; all read the same
  // ledgers, so any of them is right.
  const LedgerState state = ReadLedgers(fs::path(dir_).parent_path().string());
  const std::string encoded = EncodeGeneration(blocks, state);
  CreateExclusive(dir_, "generation", encoded);
  done_ = *DecodeGeneration(encoded, blocks, file);
}

void ClaimBoard::JoinLanes(int of) {
  const std::string file = dir_ + "/lanes";
  CreateExclusive(dir_, "lanes", std::to_string(of) + "\n");
  const std::optional<std::string> text = ReadSmall(file);
  long count = 0;
  try {
    count = text ? std::stol(*text) : 0;
  } catch (const std::exception&) {
  }
  if (count < 1 || count > (1 << 20)) {
    throw DataLoss(file + ": expected a lane count between 1 and 2^20, got \"" +
                   (text ? *text : "") + "\"");
  }
  lanes_.blocks = static_cast<Index>(done_.size());
  lanes_.count = static_cast<int>(count);
  own_lane_ = worker_ % lanes_.count;
  cursor_.assign(static_cast<size_t>(lanes_.count), std::nullopt);
  head_.assign(static_cast<size_t>(lanes_.count), false);
}

Index ClaimBoard::Cursor(int lane) {
  std::optional<Index>& c = cursor_[static_cast<size_t>(lane)];
  if (c) return *c;
  Index at = 0;
  if (const auto hint = ReadSmall(dir_ + "/runs/" + LaneName(lane) + ".head")) {
    try {
      at = std::max<Index>(0, std::stoll(*hint));
    } catch (const std::exception&) {
      at = 0;  // a hint only: follow the chain from the start
    }
  }
  c = at;
  return at;
}

namespace {

// Creates `path` exclusively holding `data`; false if it exists. One operation: readers that
// come between the create and the write wait for the newline (ReadRun).
bool CreateRunFile(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw IoError(path + ": cannot claim a run: " + ErrnoText(errno));
  }
  WriteAll(fd, data, path);
  ::close(fd);
  return true;
}

}  // namespace

std::optional<ClaimRun> ClaimBoard::TakeRun(int lane, Index size) {
  if (lane < 0 || lane >= lanes_.count) return std::nullopt;
  std::lock_guard lock(mu_);
  const Index length = lanes_.Length(lane);
  const std::string runs = dir_ + "/runs";
  Index at = std::min(Cursor(lane), length);
  // Where this worker took the last run, it is likely still the head: claim at once. Anywhere
  // else (a hint, a lane others work) look first, which is as cheap as a claim.
  bool look = !head_[static_cast<size_t>(lane)];
  head_[static_cast<size_t>(lane)] = false;
  while (at < length) {
    if (look) {
      if (const std::optional<RunFile> r = ReadRun(lane, at)) {
        at = r->end;
        continue;
      }
    }
    look = true;
    if (!from_.count(lane)) {
      from_[lane] = at;
      WriteMainLocked();  // before the first claim here: never a run without a holder
    }
    const ClaimRun run{lane, at, std::min(length, at + std::max<Index>(1, size))};
    const std::string line =
        std::to_string(run.end) + " " + identity_ + " " + std::to_string(NowMs()) + "\n";
    if (!CreateRunFile(runs + "/" + RunName(lane, at), line)) continue;  // taken: look at it
    cursor_[static_cast<size_t>(lane)] = run.end;
    head_[static_cast<size_t>(lane)] = true;
    held_[run] = holder_name_;
    const auto now = std::chrono::steady_clock::now();
    if (run.end == length) {
      MarkEnded(lane);  // helpers need not look here
    } else if (!hinted_.count(lane) || now - hinted_[lane] >= std::chrono::seconds(1)) {
      hinted_[lane] = now;
      Replace(runs, LaneName(lane) + ".head", std::to_string(run.end) + "\n");
    }
    return run;
  }
  cursor_[static_cast<size_t>(lane)] = length;
  MarkEnded(lane);
  return std::nullopt;
}

std::optional<ClaimBoard::RunFile> ClaimBoard::ReadRun(int lane, Index start) const {
  const std::string file = dir_ + "/runs/" + RunName(lane, start);
  // A run file is written right after it is created: a reader waits for its newline, but only
  // until the file is a second old (its mtime is its creation). Without a newline by then its
  // creator died in between: one position, whose holder is unknown. Every later reader sees
  // the age at once and does not wait.
  constexpr double kAbandonedAfterS = 1.0;
  for (int tries = 0;; ++tries) {
    const std::optional<std::string> text = ReadSmall(file);
    if (!text) return std::nullopt;
    RunFile r;
    if (text->find('\n') == std::string::npos) {
      const std::optional<double> age = AgeSeconds(file);
      if (age && *age < kAbandonedAfterS) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tries < 10 ? 0 : 1));
        continue;
      }
      r.end = start + 1;
      return r;
    }
    std::istringstream in(*text);
    if (!(in >> r.end >> r.holder.worker >> r.holder.pid >> r.holder.host) || r.end <= start) {
      throw DataLoss(file + ": a run must end after it starts (" + std::to_string(start) +
                     "), got \"" + text->substr(0, 40) + "\"; remove " + dir_ +
                     " when no worker runs");
    }
    r.complete = true;
    return r;
  }
}

std::vector<ClaimRun> ClaimBoard::RunsOf(int lane, Index from, const ClaimHolder& who) const {
  std::vector<ClaimRun> runs;
  const Index length = lanes_.Length(lane);
  for (Index at = from; at < length;) {
    const std::optional<RunFile> r = ReadRun(lane, at);
    if (!r) break;  // the head: nothing claimed from here on
    const bool theirs = !r->complete || (r->holder.worker == who.worker &&
                                         r->holder.pid == who.pid && r->holder.host == who.host);
    if (theirs) runs.push_back({lane, at, std::min(r->end, length)});
    at = r->end;
  }
  return runs;
}

void ClaimBoard::MarkEnded(int lane) {
  if (ended_.count(lane)) return;
  ended_.insert(lane);
  const int fd = ::open((dir_ + "/ends/" + LaneName(lane)).c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

std::vector<int> ClaimBoard::OpenLanes(int after) const {
  std::vector<bool> ended(static_cast<size_t>(lanes_.count), false);
  for (const std::string& name : Names(dir_ + "/ends")) {
    try {
      const int lane = std::stoi(name);
      if (lane >= 0 && lane < lanes_.count) ended[static_cast<size_t>(lane)] = true;
    } catch (const std::exception&) {
    }
  }
  std::vector<int> open;
  for (int k = 1; k <= lanes_.count; ++k) {
    const int lane = (after + k) % lanes_.count;
    if (!ended[static_cast<size_t>(lane)] && lanes_.Length(lane) > 0) open.push_back(lane);
  }
  return open;
}

constexpr std::string_view kReleased = "released.";

bool ClaimBoard::StaleHolder(const std::string& name, double age_s) const {
  if (name.rfind(kReleased, 0) == 0) return true;
  ClaimHolder h;
  if (!ParseHolderName(name, h)) return false;
  h.age_s = age_s;
  return !HolderLive(h, std::chrono::duration<double>(lease_).count());
}

ClaimBoard::Survey ClaimBoard::SurveyHolders() {
  Survey survey;
  const std::string dir = dir_ + "/holders";
  std::vector<std::string> names = Names(dir);
  // A holder on this host whose process is gone is stale without a look at its file; the
  // others need a stat for their heartbeat's age, of which one survey makes at most
  // kStatsPerSurvey, starting where the last one stopped: waiting workers cost O(1) each per
  // poll, and a stale holder among N is found within N / kStatsPerSurvey polls.
  constexpr size_t kStatsPerSurvey = 16;
  size_t stats = 0;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[(survey_from_ + k) % names.size()];
    if (Holds(name)) continue;
    survey.others_busy = true;
    if (!survey.taken_over.empty()) break;
    // Age 0: stale only if given back or its process is gone on this host.
    bool stale = StaleHolder(name, 0);
    if (!stale) {
      if (stats == kStatsPerSurvey) continue;
      ++stats;
      survey_from_ = (survey_from_ + k + 1) % std::max<size_t>(1, names.size());
      const std::optional<double> age = AgeSeconds(dir + "/" + name);
      if (!age) continue;  // left meanwhile
      stale = StaleHolder(name, *age);
    }
    if (!stale) continue;
    survey.taken_over = TakeOver(name);
  }
  if (!survey.taken_over.empty()) {
    // Busy unless the one taken over was the last other holder: the next survey tells.
    survey.others_busy = true;
  }
  return survey;
}

std::vector<ClaimRun> ClaimBoard::TakeOver(const std::string& name) {
  const std::string dir = dir_ + "/holders";
  const std::string path = dir + "/" + name;
  // Renamed to a holder name of this process: of two takers one succeeds, and the runs are
  // listed by some holder file at every moment.
  std::string mine;
  {
    std::lock_guard lock(mu_);
    mine = holder_name_ + "~" + std::to_string(++takeovers_);
  }
  const std::string taken = dir + "/" + mine;
  if (::rename(path.c_str(), taken.c_str()) != 0) return {};
  // It may have come alive between the look and the rename (a heartbeat): give it back.
  const std::optional<double> age = AgeSeconds(taken);
  if (age && !StaleHolder(name, *age)) {
    if (::rename(taken.c_str(), path.c_str()) != 0) ::unlink(taken.c_str());
    return {};
  }
  {
    // From here on this process's heartbeat keeps it fresh. The lock is not held while the
    // chains are followed below: a heartbeat held back longer than the lease would make this
    // file look stale to the others, who would take it over in turn.
    std::lock_guard lock(mu_);
    files_.insert(mine);
  }
  ::utimensat(AT_FDCWD, taken.c_str(), nullptr, 0);
  ClaimHolder content, who;
  ParseHolderName(name.rfind(kReleased, 0) == 0 ? name.substr(kReleased.size()) : name, who);
  ParseHolderContent(ReadSmall(taken).value_or(""), content, &who);
  std::vector<ClaimRun> candidates = content.runs;
  for (const auto& [lane, from] : content.lanes) {
    if (lane >= lanes_.count) continue;
    for (const ClaimRun& r : RunsOf(lane, from, who)) candidates.push_back(r);
  }
  std::lock_guard lock(mu_);
  std::vector<ClaimRun> runs;
  for (const ClaimRun& r : candidates) {
    if (r.lane < lanes_.count && r.end <= lanes_.Length(r.lane) && !held_.count(r)) {
      held_[r] = mine;
      runs.push_back(r);
    }
  }
  DropIfEmptyLocked(mine);
  return runs;
}

bool ClaimBoard::Holds(const std::string& file) const {
  std::lock_guard lock(mu_);
  return files_.count(file) > 0;
}

void ClaimBoard::DropIfEmptyLocked(const std::string& file) {
  if (!files_.count(file)) return;
  for (const auto& [run, f] : held_) {
    if (f == file) return;
  }
  if (file == holder_name_ && !leaving_) return;  // rewritten at the next run taken
  ::unlink((dir_ + "/holders/" + file).c_str());
  files_.erase(file);
}

void ClaimBoard::Finished(const ClaimRun& run) {
  std::lock_guard lock(mu_);
  auto it = held_.find(run);
  if (it == held_.end()) return;
  const std::string file = it->second;
  held_.erase(it);
  DropIfEmptyLocked(file);
}

void ClaimBoard::Leave() {
  std::lock_guard lock(mu_);
  leaving_ = true;
  DropIfEmptyLocked(holder_name_);
}

void ClaimBoard::ReleaseHeld() {
  std::lock_guard lock(mu_);
  leaving_ = true;
  if (!held_.empty()) {
    // One file with every run in hand, then this process's own files go.
    std::string text = "holder " + identity_ + "\n";
    for (const auto& [r, file] : held_) {
      text += "run " + std::to_string(r.lane) + " " + std::to_string(r.start) + " " +
              std::to_string(r.end) + "\n";
    }
    Replace(dir_ + "/holders", std::string(kReleased) + holder_name_, text);
    held_.clear();
  }
  for (const std::string& file : std::set<std::string>(files_)) DropIfEmptyLocked(file);
}

void ClaimBoard::Heartbeat() {
  std::lock_guard lock(mu_);
  for (const std::string& file : std::set<std::string>(files_)) {
    const std::string path = dir_ + "/holders/" + file;
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0 || errno != ENOENT) continue;
    // Taken over while this worker was stopped. The runs in hand are still computed here too
    // (harmless): the main file is written again; a takeover file is the taker's now.
    if (file == holder_name_) {
      WriteMainLocked();
    } else {
      files_.erase(file);
    }
  }
}

std::set<ClaimRun> ClaimBoard::Held() const {
  std::lock_guard lock(mu_);
  std::set<ClaimRun> runs;
  for (const auto& [run, file] : held_) runs.insert(run);
  return runs;
}

void ClaimBoard::WriteMainLocked() {
  std::string text = "holder " + identity_ + "\n";
  for (const auto& [lane, from] : from_) {
    text += "from " + std::to_string(lane) + " " + std::to_string(from) + "\n";
  }
  Replace(dir_ + "/holders", holder_name_, text);
  files_.insert(holder_name_);
}

}  // namespace volbatch
