// The ssh executor, for a lab's few machines that share a filesystem and nothing else: worker
// I runs as `ssh -tt HOST -- exec volbatch work JOBDIR --worker I --of N` on hosts[I % hosts],
// in the processes executor's pool (progress, restarts, SIGTERM forwarded to the ssh clients).
// The forced pty is what stops remote workers: when an ssh client exits, sshd closes the pty
// and the remote worker gets SIGHUP, which `volbatch work` treats like SIGTERM (it finishes
// the blocks in hand, records them and exits), so no remote worker outlives the run.
//
// The pure parts (the [run.ssh] table, host assignment, ssh command lines) are here for tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace volbatch {

// The [run.ssh] table.
struct SshSettings {
  std::vector<std::string> hosts;    // hosts: where workers run ("node1", "user@node2")
  std::string ssh = "ssh";           // ssh: the client program
  std::vector<std::string> options;  // options: extra ssh arguments, before the host
  std::string volbatch;              // volbatch: the executable's path on the hosts
  int connect_timeout_s = 10;        // connect_timeout_s: ssh's ConnectTimeout
};

// Reads and checks the table (the job's [run.ssh] with --hosts laid over it); `volbatch` is
// the default of the "volbatch" key. Throws InvalidArgument naming "[run.ssh] KEY", also for
// an unknown key.
SshSettings ReadSshSettings(const nlohmann::json& table, const std::string& volbatch);

// Worker w's host: hosts[w % hosts].
const std::string& HostOfWorker(const SshSettings& settings, int worker);

// A command line for a POSIX shell on the remote host: "exec WORD WORD ...", each quoted.
std::string RemoteExec(const std::vector<std::string>& words);

// The argv of the ssh session running `remote_command` on `host` for a worker:
//   /bin/sh -c 'exec "$@" </dev/null' sh
//       SSH -tt -n -o BatchMode=yes -o ConnectTimeout=T [options] -o LogLevel=ERROR
//       -o ServerAliveInterval=10 -o ServerAliveCountMax=3 HOST -- REMOTE_COMMAND
// ssh keeps the first value of an option, so options can override the last three only. The
// shell (replaced by ssh: same pid) gives ssh a stdin that is not a terminal: with -tt, and
// even with -n, ssh puts a terminal on its stdin in raw mode, which would turn off Ctrl-C
// and could leave the user's terminal raw after the run.
std::vector<std::string> SshWorkerArgv(const SshSettings& settings, const std::string& host,
                                       const std::string& remote_command);

// The argv of the check made once per host before any worker starts (no pty): exits 0 if the
// host answers, `volbatch` is an executable there and JOBDIR/job.json is visible there;
// kSshProbeNoVolbatch or kSshProbeNoJobDir if not; 255 (ssh's own) if ssh failed.
inline constexpr int kSshProbeNoVolbatch = 97;
inline constexpr int kSshProbeNoJobDir = 98;
std::vector<std::string> SshProbeArgv(const SshSettings& settings, const std::string& host,
                                      const std::string& jobdir);
// What a failed check means, on one line naming the host ("" if it passed). `err` is what ssh
// printed on stderr; `exit_code` -1 if ssh could not be started.
std::string SshProbeProblem(const SshSettings& settings, const std::string& host,
                            const std::string& jobdir, int exit_code, const std::string& err,
                            bool timed_out);

}  // namespace volbatch
