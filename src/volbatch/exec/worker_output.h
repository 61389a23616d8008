// What the workers of a pool print, on its way to the user's terminal. Each worker's stdout and
// stderr are pipes read by the pool (one LineRelay each), which hands on whole lines to its own
// stdout and stderr and keeps each worker's last line, so that the line saying why a worker is
// not started again can quote what the worker said last ("cannot open ...").
//
// Why pipes through the pool and not a log file per worker: a file on the job directory's
// shared filesystem would cost the pool a read per worker and poll (a metadata round trip each,
// with hundreds of workers), and the user would see nothing live. Pipes are local and cost a
// poll(2). They are robust as used here:
//  - no deadlock on a full pipe: the pool reads whenever poll says there is something, between
//    everything else it does, and never waits for a worker while holding its output unread;
//  - no lost output when a worker dies: what a process wrote to a pipe is in the pipe before
//    it exits, and Drain reads it all (a last line without '\n' too) before the pool decides
//    about the worker; it does not wait for an end of file, which a grandchild still holding
//    the pipe could put off forever;
//  - lines of different workers never mix mid-line, as they could on a shared terminal;
//  - a line longer than kMaxRelayedLine is handed on in pieces: memory stays bounded.
// The pool starts its workers with SIGPIPE ignored: should `volbatch run` itself be killed, its
// workers' writes fail (EPIPE) and they go on with their blocks, as they did when they wrote to
// the terminal directly.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace volbatch {

inline constexpr size_t kMaxRelayedLine = 64 * 1024;

class LineRelay {
 public:
  // A whole line, without its '\n'.
  using Sink = std::function<void(const std::string& line)>;

  // Takes `fd`, the read end of a pipe: makes it non-blocking and closes it when done.
  LineRelay(int fd, Sink sink);
  ~LineRelay();
  LineRelay(const LineRelay&) = delete;
  LineRelay& operator=(const LineRelay&) = delete;

  int fd() const { return fd_; }  // -1 once closed

  // Reads what the pipe holds now and hands on every whole line; at the end of file, the last
  // line even without '\n', and closes. Returns false once closed.
  bool Pump();

  // The writer has exited: reads everything it wrote, hands it all on and closes.
  void Drain();

 private:
  enum class Read { kEmptyNow, kMore, kEnd };
  Read ReadAvailable();
  void Close();
  void HandOn(bool all);

  int fd_;
  Sink sink_;
  std::string buffer_;
};

// The last line of `text` that is not blank, without trailing '\r' and spaces ("" if none).
std::string LastLine(const std::string& text);

// The last non-blank line among the last `tail` bytes of a file ("" if it is missing or has
// none); one open and one read, whatever the file's size.
std::string LastLineOfFile(const std::string& path, size_t tail = 4096);

// `line` cut to at most `most` bytes (ending in "...") for a one-line message.
std::string Shortened(const std::string& line, size_t most = 300);

}  // namespace volbatch
