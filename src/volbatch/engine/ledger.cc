#include "volbatch/engine/ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "volbatch/codec/crc32c.h"
#include "volbatch/core/error.h"

namespace volbatch {
namespace fs = std::filesystem;

namespace {
constexpr uint32_t kMagic = 0x314C4256;  // "VBL1" little-endian

template <typename T>
void Put(std::string& s, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
template <typename T>
T Get(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}
uint32_t Crc(const char* p, size_t n) {
  return Crc32c(std::span<const std::byte>(reinterpret_cast<const std::byte*>(p), n));
}
}  // namespace

std::string LedgerPath(const std::string& jobdir, int worker) {
  char name[32];
  std::snprintf(name, sizeof(name), "worker-%04d.log", worker);
  return (fs::path(jobdir) / "ledger" / name).string();
}

std::string EncodeLedgerRecord(const LedgerRecord& r) {
  std::string s(kLedgerRecordSize, '\0');
  Put<uint32_t>(s, 0, kMagic);
  s[4] = static_cast<char>(r.status);
  Put<uint64_t>(s, 8, static_cast<uint64_t>(r.block));
  Put<uint64_t>(s, 16, r.time_ms);
  Put<uint32_t>(s, 24, r.duration_ms);
  Put<uint32_t>(s, 28, Crc(s.data(), 28));
  return s;
}

LedgerWriter::LedgerWriter(const std::string& jobdir, int worker)
    : path_(LedgerPath(jobdir, worker)) {
  std::error_code ec;
  fs::create_directories(fs::path(path_).parent_path(), ec);
  if (ec) throw IoError(path_ + ": cannot create the ledger directory: " + ec.message());
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError(path_ + ": cannot open the ledger: " + ErrnoText(errno));
  // A torn record at the end (a crash mid-append) would misalign every later record: cut it.
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  if (size > 0 && size % static_cast<off_t>(kLedgerRecordSize) != 0) {
    if (::ftruncate(fd_, size - size % static_cast<off_t>(kLedgerRecordSize)) != 0) {
      throw IoError(path_ + ": cannot cut a torn record: " + ErrnoText(errno));
    }
  }
}

LedgerWriter::~LedgerWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void LedgerWriter::Append(const std::vector<LedgerRecord>& records) {
  if (records.empty()) return;
  std::string bytes;
  bytes.reserve(records.size() * kLedgerRecordSize);
  for (const LedgerRecord& r : records) bytes += EncodeLedgerRecord(r);
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw IoError(path_ + ": cannot append a record: " +
                    (n < 0 ? ErrnoText(errno) : std::string("short write")));
    }
    at += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) throw IoError(path_ + ": fdatasync failed: " + ErrnoText(errno));
}

size_t LedgerState::done() const { return done_count; }
size_t LedgerState::failed() const { return latest.size() - done(); }
bool LedgerState::IsDone(Index block) const {
  auto it = latest.find(block);
  return it != latest.end() && it->second.status == BlockStatus::kDone;
}

namespace {

// One record, or nullopt if its magic, CRC or status is wrong.
std::optional<LedgerRecord> DecodeRecord(const char* p) {
  const uint8_t status = static_cast<uint8_t>(p[4]);
  if (Get<uint32_t>(p) != kMagic || Get<uint32_t>(p + 28) != Crc(p, 28) ||
      (status != 1 && status != 2)) {
    return std::nullopt;
  }
  LedgerRecord r;
  r.status = static_cast<BlockStatus>(status);
  r.block = static_cast<Index>(Get<uint64_t>(p + 8));
  r.time_ms = Get<uint64_t>(p + 16);
  r.duration_ms = Get<uint32_t>(p + 24);
  return r;
}

// Parses whole records from `data` into `state`.
void AddRecords(const std::string& data, LedgerState& state) {
  for (size_t at = 0; at + kLedgerRecordSize <= data.size(); at += kLedgerRecordSize) {
    const std::optional<LedgerRecord> r = DecodeRecord(data.data() + at);
    if (!r) {
      ++state.bad_records;
      continue;
    }
    ++state.records;
    auto [it, inserted] = state.latest.emplace(r->block, *r);
    if (!inserted && it->second.status != BlockStatus::kDone) {
      it->second = *r;
      if (r->status == BlockStatus::kDone) ++state.done_count;
    } else if (inserted && r->status == BlockStatus::kDone) {
      ++state.done_count;
    }
  }
}

std::string ReadWhole(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(file + ": cannot read the ledger");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> LedgerFiles(const std::string& jobdir) {
  std::vector<std::string> files;
  const fs::path dir = fs::path(jobdir) / "ledger";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("worker-", 0) == 0 && it->path().extension() == ".log") {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

LedgerState ReadLedgers(const std::string& jobdir) {
  LedgerState state;
  state.files = LedgerFiles(jobdir);
  for (const auto& file : state.files) {
    const std::string data = ReadWhole(file);
    state.torn_bytes += data.size() % kLedgerRecordSize;
    AddRecords(data, state);
  }
  return state;
}

std::vector<LedgerHistory> ReadLedgerHistories(const std::string& jobdir) {
  std::vector<LedgerHistory> out;
  for (const auto& file : LedgerFiles(jobdir)) {
    const std::string data = ReadWhole(file);
    LedgerHistory h;
    h.file = file;
    for (size_t at = 0; at + kLedgerRecordSize <= data.size(); at += kLedgerRecordSize) {
      if (auto r = DecodeRecord(data.data() + at)) h.records.push_back(*r);
    }
    out.push_back(std::move(h));
  }
  return out;
}

LedgerFollower::~LedgerFollower() {
  for (auto& [file, o] : files_) {
    if (o.fd >= 0) ::close(o.fd);
  }
}

namespace {
// Ledgers a follower keeps open; past that (more workers than this) each is opened per read.
constexpr size_t kOpenLedgers = 512;
}  // namespace

void LedgerFollower::ReadNew(const std::string& file, Open& o) {
  int fd = o.fd;
  if (fd < 0) {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // vanished (a --force elsewhere): nothing to add
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), static_cast<off_t>(o.offset + data.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  if (o.fd < 0) ::close(fd);
  // A record being appended right now is read next time, whole.
  const size_t whole = data.size() - data.size() % kLedgerRecordSize;
  data.resize(whole);
  AddRecords(data, state_);
  o.offset += whole;
}

void LedgerFollower::Refresh() {
  const auto now = std::chrono::steady_clock::now();
  if (listed_ == std::chrono::steady_clock::time_point{} || now - listed_ >= relist_) {
    listed_ = now;
    for (const std::string& file : LedgerFiles(jobdir_)) {
      if (files_.count(file)) continue;
      Open o;
      if (files_.size() < kOpenLedgers) o.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      files_.emplace(file, o);
    }
    state_.files.clear();
    for (const auto& [file, o] : files_) state_.files.push_back(file);
  }
  for (auto& [file, o] : files_) ReadNew(file, o);
}

}  // namespace volbatch
