// Starting a worker of this same program without exec: the worker pool's way to start hundreds
// of `volbatch work` processes without each paying for the dynamic loader.
//
// Why: an exec'd volbatch makes about 100 metadata calls before main (the loader opening and
// stat'ing some 30 shared libraries, and probing the RUNPATH directory's hwcaps subdirectories).
// On a parallel filesystem each is a round trip to the metadata server, and with 256 workers over
// 32,768 tiny blocks they were a third of all the job's metadata calls (issue 16).
//
// How: the pool exec's one spawn server (`volbatch spawn-server`, hidden) beside its workers. The
// server is single-threaded and has everything loaded; for each worker it forks twice: the
// grandchild runs the program's entry point (Main) with the worker's arguments, and the middle
// child exits at once, so the worker is re-parented to the pool, which is a child subreaper
// (PR_SET_CHILD_SUBREAPER): the pool waits for, signals and restarts its workers exactly as if
// it had fork+exec'd them. The worker starts as exec would have left it: stdout and stderr on the
// pipes the pool passed (SCM_RIGHTS), every other descriptor closed, caught signals back to
// their defaults, and its command line (/proc/PID/cmdline, what `ps` and the tests read) rewritten
// to the worker's own arguments in the argument area of the server, which the pool padded to fit.
//
// Wire format on the SOCK_SEQPACKET pair (fd 3 in the server): the server first sends a 4-byte
// int32 0 when it can serve (it refuses, and exits, if it is not single-threaded, as under
// ThreadSanitizer); a request is one packet of the arguments each ending in '\0', with the two
// descriptors in its SCM_RIGHTS; the reply is one int32, the worker's pid or -errno. Any failure
// (the server gone, a refused or too-long request) makes the pool fall back to fork+exec.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace volbatch {

using ProgramEntry = int (*)(int argc, char** argv);

// Called by the volbatch executable's main(): its own executable can serve spawns. A process
// that did not (the Python module) always exec's its workers.
void DeclareSpawnServer(ProgramEntry entry);

// Whether argv is `PROGRAM spawn-server ...`; then main() returns ServeSpawns(argc, argv).
bool IsSpawnServerCommand(int argc, char** argv);
int ServeSpawns(int argc, char** argv, ProgramEntry entry);

// The pool's side: one server, and the workers started through it.
class SpawnServer {
 public:
  // A server for workers of `executable` whose arguments take at most `room` bytes (each
  // argument with its '\0'), or nullptr when this process cannot use one: `executable` is not
  // this process's own, main() did not declare it, VOLBATCH_SPAWN_SERVER=0, or the server did
  // not start.
  static std::unique_ptr<SpawnServer> Start(const std::string& executable, size_t room);
  ~SpawnServer();
  SpawnServer(const SpawnServer&) = delete;
  SpawnServer& operator=(const SpawnServer&) = delete;

  // The worker's pid, running `args` with `out` and `err` as its stdout and stderr; nullopt
  // when the server cannot start it (then it is not used again, and the caller exec's).
  std::optional<pid_t> Spawn(const std::vector<std::string>& args, int out, int err);

 private:
  SpawnServer(pid_t pid, int socket) : pid_(pid), socket_(socket) {}
  void Stop(bool kill);

  pid_t pid_;
  int socket_;
};

}  // namespace volbatch
