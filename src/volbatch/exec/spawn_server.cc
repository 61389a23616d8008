#include "volbatch/exec/spawn_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace volbatch {
namespace {

constexpr int kServerFd = 3;
constexpr const char* kCommand = "spawn-server";
// A request larger than this is refused by the pool before it is sent (the kernel's limit on
// one argument is 128 KiB; a worker's arguments are a few hundred bytes).
constexpr size_t kMaxRequest = size_t{60} * 1024;
// How long the pool waits for the server's first word or a reply before it gives up on it.
constexpr int kReplyTimeoutMs = 30000;

ProgramEntry declared_entry = nullptr;

std::string Joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    s += a;
    s.push_back('\0');
  }
  return s;
}

std::vector<std::string> Split(const char* data, size_t size) {
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      args.emplace_back(data + start, i - start);
      start = i + 1;
    }
  }
  return args;
}

bool SendInt(int fd, int32_t v) {
  return ::send(fd, &v, sizeof(v), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(v));
}

// The next int32 on `fd`, or nullopt when the peer is gone or silent for kReplyTimeoutMs.
std::optional<int32_t> ReceiveInt(int fd) {
  pollfd p{fd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, kReplyTimeoutMs)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return std::nullopt;
  int32_t v = 0;
  ssize_t got;
  while ((got = ::recv(fd, &v, sizeof(v), 0)) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof(v))) return std::nullopt;
  return v;
}

// ---- the server --------------------------------------------------------------------------------

// Threads of this process, from /proc/self/stat's 20th field.
int ThreadCount() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  for (int k = 3; k <= 20 && rest >> field; ++k) {
    if (k == 20) return std::atoi(field.c_str());
  }
  return -1;
}

// The bytes of argv's strings, contiguous as the kernel laid them out: /proc/PID/cmdline shows
// whatever they hold.
struct ArgumentArea {
  char* begin = nullptr;
  size_t size = 0;
};

ArgumentArea AreaOf(int argc, char** argv) {
  ArgumentArea a{argv[0], std::strlen(argv[0]) + 1};
  for (int i = 1; i < argc && argv[i] == a.begin + a.size; ++i) a.size += std::strlen(argv[i]) + 1;
  return a;
}

void CloseFrom(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
  for (int fd = first; fd < 65536; ++fd) ::close(fd);
}

// Caught signals back to their defaults, as exec would leave them (ignored ones stay ignored).
void DefaultSignals() {
  for (int s = 1; s < NSIG; ++s) {
    struct sigaction old {};
    if (s == SIGKILL || s == SIGSTOP || ::sigaction(s, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_IGN && old.sa_handler != SIG_DFL) ::signal(s, SIG_DFL);
  }
}

[[noreturn]] void RunWorker(std::vector<std::string> args, int out, int err, ArgumentArea area,
                            ProgramEntry entry) {
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  CloseFrom(3);
  DefaultSignals();
  ::signal(SIGPIPE, SIG_IGN);  // as the pool's exec'd workers (worker_output.h)
  const std::string title = Joined(args);
  std::memset(area.begin, 0, area.size);
  std::memcpy(area.begin, title.data(), title.size());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = 1;
  try {
    rc = entry(static_cast<int>(args.size()), argv.data());
  } catch (const std::exception& e) {
    std::cerr << "volbatch: " << e.what() << "\n";
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // Not exit(): nothing of the server's (its static objects, atexit) is the worker's to end.
  ::_exit(rc);
}

// One request: the worker started by a double fork, its pid sent back by the middle child.
void Serve(const std::vector<std::string>& args, int out, int err, ArgumentArea area,
           ProgramEntry entry) {
  if (args.empty() || Joined(args).size() > area.size) {
    SendInt(kServerFd, -E2BIG);
    return;
  }
  const pid_t middle = ::fork();
  if (middle == 0) {
    const pid_t worker = ::fork();
    if (worker == 0) RunWorker(args, out, err, area, entry);
    SendInt(kServerFd, worker < 0 ? -errno : worker);
    ::_exit(0);
  }
  if (middle < 0) {
    SendInt(kServerFd, -errno);
    return;
  }
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void DeclareSpawnServer(ProgramEntry entry) { declared_entry = entry; }

bool IsSpawnServerCommand(int argc, char** argv) {
  return argc >= 2 && std::strcmp(argv[1], kCommand) == 0;
}

int ServeSpawns(int argc, char** argv, ProgramEntry entry) {
  ::signal(SIGPIPE, SIG_IGN);
  // A fork of a threaded process would carry locks held by threads that do not exist in it.
  if (ThreadCount() != 1) return 3;
  const ArgumentArea area = AreaOf(argc, argv);
  if (!SendInt(kServerFd, 0)) return 1;
  std::vector<char> buffer(kMaxRequest + 1);
  while (true) {
    iovec iov{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(kServerFd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? 0 : 1;  // the pool closed its end: done
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (c == nullptr || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
      SendInt(kServerFd, -EINVAL);
      continue;
    }
    int fds[2];
    std::memcpy(fds, CMSG_DATA(c), sizeof(fds));
    Serve(Split(buffer.data(), static_cast<size_t>(n)), fds[0], fds[1], area, entry);
    ::close(fds[0]);
    ::close(fds[1]);
  }
}

// ---- the pool's side
// -----------------------------------------------------------------------------

std::unique_ptr<SpawnServer> SpawnServer::Start(const std::string& executable, size_t room) {
  const char* env = std::getenv("VOLBATCH_SPAWN_SERVER");
  if (declared_entry == nullptr || (env != nullptr && std::string(env) == "0")) return nullptr;
  std::error_code ec;
  if (room > kMaxRequest || !std::filesystem::equivalent(executable, "/proc/self/exe", ec) || ec) {
    return nullptr;
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
  // The workers' middle processes exit at once: their children become ours.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return nullptr;
  }
  // The server's own arguments make the room its workers' command lines are written in.
  // (less its first two, so that a worker's command line ends with few '\0's to spare).
  std::string exe = executable, command = kCommand;
  std::string padding(std::max<size_t>(1, room - std::min(room, exe.size() + command.size() + 3)),
                      ' ');
  char* argv[] = {exe.data(), command.data(), padding.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (sv[1] == kServerFd) {
      ::fcntl(kServerFd, F_SETFD, 0);
    } else {
      ::dup2(sv[1], kServerFd);
    }
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    return nullptr;
  }
  std::unique_ptr<SpawnServer> server(new SpawnServer(pid, sv[0]));
  const std::optional<int32_t> hello = ReceiveInt(sv[0]);
  if (!hello || *hello != 0) {
    server->Stop(/*kill=*/true);
    return nullptr;
  }
  return server;
}

std::optional<pid_t> SpawnServer::Spawn(const std::vector<std::string>& args, int out, int err) {
  if (socket_ < 0) return std::nullopt;
  std::string request = Joined(args);
  iovec iov{request.data(), request.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int fds[2] = {out, err};
  std::memcpy(CMSG_DATA(c), fds, sizeof(fds));
  ssize_t sent;
  while ((sent = ::sendmsg(socket_, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  const std::optional<int32_t> reply =
      sent == static_cast<ssize_t>(request.size()) ? ReceiveInt(socket_) : std::nullopt;
  if (!reply || *reply <= 0) {
    Stop(/*kill=*/true);
    return std::nullopt;
  }
  return static_cast<pid_t>(*reply);
}

void SpawnServer::Stop(bool kill) {
  if (socket_ < 0) return;
  ::close(socket_);  // the server's end of file: it returns
  socket_ = -1;
  if (kill) ::kill(pid_, SIGKILL);  // it may be stuck: it failed us
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// The process stays a child subreaper: a worker started through the server may outlive it, and
// must still be ours to wait for.
SpawnServer::~SpawnServer() { Stop(/*kill=*/false); }

}  // namespace volbatch
