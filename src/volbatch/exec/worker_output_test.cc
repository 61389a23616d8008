#include "volbatch/exec/worker_output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace volbatch {
namespace {

namespace fs = std::filesystem;

// A pipe whose read end a LineRelay owns and whose write end the test writes.
struct Piped {
  std::vector<std::string> lines;
  int write_end = -1;
  std::unique_ptr<LineRelay> relay;
  Piped() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  // room for the long lines below
    write_end = fds[1];
    relay =
        std::make_unique<LineRelay>(fds[0], [this](const std::string& l) { lines.push_back(l); });
  }
  ~Piped() { CloseWriter(); }
  void Write(const std::string& text) {
    ASSERT_EQ(::write(write_end, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  void CloseWriter() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
};

TEST(LineRelay, HandsOnWholeLinesOnly) {
  Piped p;
  p.Write("first\nsec");
  EXPECT_TRUE(p.relay->Pump());
  EXPECT_EQ(p.lines, std::vector<std::string>{"first"});
  p.Write("ond\n\nthird");
  EXPECT_TRUE(p.relay->Pump());
  EXPECT_EQ(p.lines, (std::vector<std::string>{"first", "second", ""}));
  EXPECT_TRUE(p.relay->Pump());  // nothing new: no blocking, no line
  EXPECT_EQ(p.lines.size(), 3u);
  p.CloseWriter();
  EXPECT_FALSE(p.relay->Pump());  // end of file: the last line without '\n' too
  EXPECT_EQ(p.lines.back(), "third");
  EXPECT_EQ(p.relay->fd(), -1);
}

TEST(LineRelay, DrainReadsEverythingWithoutWaitingForTheEndOfFile) {
  Piped p;
  // More than one Pump reads (1 MiB) would not fit a pipe; a full pipe's worth does.
  std::string text;
  for (int i = 0; text.size() < 60000; ++i) text += "line " + std::to_string(i) + "\n";
  p.Write(text + "volbatch: cannot open x");
  // The writer end stays open (a grandchild could hold it): Drain must not wait for it.
  p.relay->Drain();
  ASSERT_FALSE(p.lines.empty());
  EXPECT_EQ(p.lines.front(), "line 0");
  EXPECT_EQ(p.lines.back(), "volbatch: cannot open x");
  EXPECT_EQ(p.relay->fd(), -1);
  size_t bytes = 0;
  for (const auto& l : p.lines) bytes += l.size() + 1;
  EXPECT_EQ(bytes, text.size() + std::string("volbatch: cannot open x").size() + 1);
}

TEST(LineRelay, AnEndlessLineIsHandedOnInPieces) {
  Piped p;
  const std::string piece(kMaxRelayedLine, 'x');
  for (int i = 0; i < 3; ++i) {
    p.Write(piece);
    p.relay->Pump();
  }
  EXPECT_EQ(p.lines.size(), 3u);
  for (const auto& l : p.lines) EXPECT_EQ(l.size(), kMaxRelayedLine);
}

TEST(LastLine, SkipsBlankLinesAndCarriageReturns) {
  EXPECT_EQ(LastLine(""), "");
  EXPECT_EQ(LastLine("\n \r\n"), "");
  EXPECT_EQ(LastLine("a\nb\r\n\r\n  \n"), "b");
  EXPECT_EQ(LastLine("a\nlast words"), "last words");
}

TEST(LastLineOfFile, ReadsOnlyTheTail) {
  const fs::path dir = fs::temp_directory_path() / ("vb_lastline_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EXPECT_EQ(LastLineOfFile((dir / "missing").string()), "");
  {
    std::ofstream f(dir / "log");
    for (int i = 0; i < 10000; ++i) f << "progress " << i << "\n";
    f << "volbatch: worker 3: cannot open the ledger\n\n";
  }
  EXPECT_EQ(LastLineOfFile((dir / "log").string()), "volbatch: worker 3: cannot open the ledger");
  {
    std::ofstream f(dir / "one");
    f << std::string(5000, 'y') << "\n";  // longer than the tail: cut, so not a line
  }
  EXPECT_EQ(LastLineOfFile((dir / "one").string(), 4096), "");
  fs::remove_all(dir);
}

TEST(Shortened, CutsLongLines) {
  EXPECT_EQ(Shortened("short"), "short");
  const std::string s = Shortened(std::string(1000, 'z'), 20);
  EXPECT_EQ(s.size(), 20u);
  EXPECT_EQ(s.substr(17), "...");
}

}  // namespace
}  // namespace volbatch
