#include "volbatch/exec/ssh.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "volbatch/core/error.h"

namespace volbatch {
namespace {

using nlohmann::json;
using Argv = std::vector<std::string>;

std::string Join(const Argv& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : "|") + a;
  return s;
}

// The message of the InvalidArgument that reading `table` throws ("" if none).
std::string ReadError(const json& table) {
  try {
    ReadSshSettings(table, "/opt/vb/volbatch");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "";
}

TEST(SshSettings, Defaults) {
  const SshSettings s = ReadSshSettings({{"hosts", {"a", "root@b"}}}, "/opt/vb/volbatch");
  EXPECT_EQ(s.hosts, (Argv{"a", "root@b"}));
  EXPECT_EQ(s.ssh, "ssh");
  EXPECT_TRUE(s.options.empty());
  EXPECT_EQ(s.volbatch, "/opt/vb/volbatch");
  EXPECT_EQ(s.connect_timeout_s, 10);
}

TEST(SshSettings, ReadsEveryKey) {
  const SshSettings s = ReadSshSettings({{"hosts", {"n1"}},
                                         {"ssh", "/usr/local/bin/ssh"},
                                         {"options", {"-p", 2222, "-i", "/k"}},
                                         {"volbatch", "/shared/bin/volbatch"},
                                         {"connect_timeout_s", 2.5}},
                                        "/opt/vb/volbatch");
  EXPECT_EQ(s.ssh, "/usr/local/bin/ssh");
  EXPECT_EQ(s.options, (Argv{"-p", "2222", "-i", "/k"}));
  EXPECT_EQ(s.volbatch, "/shared/bin/volbatch");
  EXPECT_EQ(s.connect_timeout_s, 3);  // whole seconds, rounded up
}

TEST(SshSettings, ErrorsNameTheKey) {
  EXPECT_NE(ReadError(json::object()).find("[run.ssh] hosts: missing"), std::string::npos);
  EXPECT_NE(ReadError(json::object()).find("--hosts"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", json::array()}}).find("[run.ssh] hosts:"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", "a,b"}}).find("[run.ssh] hosts:"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a", 3}}}).find("[run.ssh] hosts:"), std::string::npos);
  // A host ssh would take for an option, or that is not one word.
  EXPECT_NE(ReadError({{"hosts", {"-oProxyCommand=x"}}}).find("[run.ssh] hosts:"),
            std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a b"}}}).find("[run.ssh] hosts:"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {""}}}).find("[run.ssh] hosts:"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a"}}, {"options", "-p 22"}}).find("[run.ssh] options:"),
            std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a"}}, {"options", {"-p", true}}}).find("[run.ssh] options:"),
            std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a"}}, {"ssh", ""}}).find("[run.ssh] ssh:"), std::string::npos);
  EXPECT_NE(ReadError({{"hosts", {"a"}}, {"volbatch", 1}}).find("[run.ssh] volbatch:"),
            std::string::npos);
  EXPECT_NE(
      ReadError({{"hosts", {"a"}}, {"connect_timeout_s", 0}}).find("[run.ssh] connect_timeout_s:"),
      std::string::npos);
  EXPECT_EQ(ReadError({{"hosts", {"a"}}, {"colour", "red"}}), "[run.ssh] colour: unknown key");
}

TEST(SshSettings, WorkersGoRoundTheHosts) {
  const SshSettings s = ReadSshSettings({{"hosts", {"a", "b", "c"}}}, "vb");
  Argv got;
  for (int w = 0; w < 7; ++w) got.push_back(HostOfWorker(s, w));
  EXPECT_EQ(got, (Argv{"a", "b", "c", "a", "b", "c", "a"}));
}

TEST(SshCommand, WorkerArgv) {
  const SshSettings s = ReadSshSettings(
      {{"hosts", {"n1"}}, {"options", {"-p", "2222", "-o", "LogLevel=INFO"}}}, "/opt/vb/volbatch");
  const Argv argv = SshWorkerArgv(s, "n1", "exec /opt/vb/volbatch work /j");
  EXPECT_EQ(Join(argv),
            "/bin/sh|-c|exec \"$@\" </dev/null|sh|"
            "ssh|-tt|-n|-o|BatchMode=yes|-o|ConnectTimeout=10|"
            "-p|2222|-o|LogLevel=INFO|"
            "-o|LogLevel=ERROR|-o|ServerAliveInterval=10|-o|ServerAliveCountMax=3|"
            "n1|--|exec /opt/vb/volbatch work /j");
  // The user's LogLevel comes first, so it is the one ssh keeps.
  EXPECT_LT(std::find(argv.begin(), argv.end(), "LogLevel=INFO"),
            std::find(argv.begin(), argv.end(), "LogLevel=ERROR"));
}

TEST(SshCommand, RemoteCommandIsQuotedForTheRemoteShell) {
  EXPECT_EQ(RemoteExec({"/opt/vb/volbatch", "work", "/data/my job.volbatch", "--worker", "2"}),
            "exec /opt/vb/volbatch work '/data/my job.volbatch' --worker 2");
  EXPECT_EQ(RemoteExec({"/it's/volbatch", "$HOME", "a;b"}),
            "exec '/it'\\''s/volbatch' '$HOME' 'a;b'");
}

TEST(SshCommand, ProbeChecksTheExecutableAndTheJobDirectory) {
  SshSettings s = ReadSshSettings({{"hosts", {"n1"}}}, "/opt/vb/volbatch");
  Argv argv = SshProbeArgv(s, "n1", "/data/o.volbatch");
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "-tt"), 0);  // no pty: stderr apart
  ASSERT_GE(argv.size(), 3u);
  EXPECT_EQ(argv[argv.size() - 3], "n1");
  EXPECT_EQ(argv[argv.size() - 2], "--");
  EXPECT_EQ(argv.back(),
            "{ test -f /opt/vb/volbatch && test -x /opt/vb/volbatch; } || exit 97; "
            "test -f /data/o.volbatch/job.json || exit 98");
  s.volbatch = "volbatch";  // a name on the remote PATH
  EXPECT_EQ(SshProbeArgv(s, "n1", "/j").back(),
            "{ command -v volbatch >/dev/null 2>&1; } || exit 97; test -f /j/job.json || exit 98");
}

TEST(SshCommand, ProbeProblemsNameTheHost) {
  const SshSettings s = ReadSshSettings({{"hosts", {"n1"}}}, "/opt/vb/volbatch");
  EXPECT_EQ(SshProbeProblem(s, "n1", "/j", 0, "", false), "");
  EXPECT_EQ(SshProbeProblem(s, "n1", "/j", 255,
                            "Warning: something\r\nssh: connect to host n1 port 22: Connection "
                            "refused\r\n",
                            false),
            "[run.ssh] hosts: cannot run a command on n1 with ssh (ssh: connect to host n1 port "
            "22: Connection refused)");
  EXPECT_EQ(SshProbeProblem(s, "n1", "/j", kSshProbeNoVolbatch, "", false),
            "[run.ssh] volbatch: /opt/vb/volbatch is not an executable on n1");
  EXPECT_NE(
      SshProbeProblem(s, "n1", "/j", kSshProbeNoJobDir, "", false).find("/j is not visible on n1"),
      std::string::npos);
  EXPECT_EQ(SshProbeProblem(s, "n1", "/j", 255, "", true),
            "[run.ssh] hosts: n1 did not answer within 40 s");
  EXPECT_NE(SshProbeProblem(s, "n1", "/j", -1, "ssh: No such file", false).find("[run.ssh] ssh:"),
            std::string::npos);
}

}  // namespace
}  // namespace volbatch
