#include "volbatch/exec/worker_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace volbatch {

LineRelay::LineRelay(int fd, Sink sink) : fd_(fd), sink_(std::move(sink)) {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

LineRelay::~LineRelay() { Close(); }

void LineRelay::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LineRelay::HandOn(bool all) {
  size_t begin = 0;
  for (size_t end; (end = buffer_.find('\n', begin)) != std::string::npos; begin = end + 1) {
    sink_(buffer_.substr(begin, end - begin));
  }
  buffer_.erase(0, begin);
  while (buffer_.size() >= kMaxRelayedLine) {
    sink_(buffer_.substr(0, kMaxRelayedLine));
    buffer_.erase(0, kMaxRelayedLine);
  }
  if (all && !buffer_.empty()) {
    sink_(buffer_);
    buffer_.clear();
  }
}

LineRelay::Read LineRelay::ReadAvailable() {
  // At most 1 MiB per call, so that one chatty worker cannot keep the pool from the others.
  char chunk[16384];
  for (int reads = 0; reads < 64;) {
    const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      HandOn(false);
      ++reads;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Read::kEmptyNow;
    } else {
      return Read::kEnd;  // end of file, or a pipe that cannot be read any more
    }
  }
  return Read::kMore;
}

bool LineRelay::Pump() {
  if (fd_ >= 0 && ReadAvailable() == Read::kEnd) {
    HandOn(true);
    Close();
  }
  return fd_ >= 0;
}

void LineRelay::Drain() {
  // A dead writer's output is what the pipe holds (64 KiB, 1 MiB at most): a few rounds. The
  // bound is for a grandchild that inherited the pipe and still writes.
  for (int round = 0; fd_ >= 0 && round < 16 && ReadAvailable() == Read::kMore; ++round) {
  }
  HandOn(true);
  Close();
}

std::string LastLine(const std::string& text) {
  std::string last;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) last = line;
    begin = end + 1;
  }
  return last;
}

std::string LastLineOfFile(const std::string& path, size_t tail) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text(tail, '\0');
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const off_t from = size > static_cast<off_t>(tail) ? size - static_cast<off_t>(tail) : 0;
  ssize_t n = -1;
  if (size >= 0) {
    do {
      n = ::pread(fd, text.data(), tail, from);
    } while (n < 0 && errno == EINTR);
  }
  ::close(fd);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  // A line cut by the start of the tail is not one the file has: drop it.
  if (from > 0) {
    const size_t first = text.find('\n');
    text.erase(0, first == std::string::npos ? text.size() : first + 1);
  }
  return LastLine(text);
}

std::string Shortened(const std::string& line, size_t most) {
  if (line.size() <= most) return line;
  return line.substr(0, most > 3 ? most - 3 : 0) + "...";
}

}  // namespace volbatch
