"""The ssh executor against a real sshd on 127.0.0.1 (scripts/sshd.sh; no mocks): workers started
over ssh write what a local run writes; remote workers killed with SIGKILL are started again and
the bytes do not change; a SIGTERM to `volbatch run` stops the remote workers (sshd closes their
pty: SIGHUP) and a resume finishes; a host that refuses connections, a missing hosts list and an
unknown [run.ssh] key are each one line."""
import os
import socket
import signal
import subprocess
import termios
import time

import pytest

import engine_util as eu
import exec_util as xu

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SSHD = os.path.join(ROOT, "scripts", "sshd.sh")
SHAPE = (64, 256, 256)  # 128 blocks of 32^3
CHUNKS = (32, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [2.0, 2.0, 2.0]}
# A heavier kernel, so that a run lasts long enough to kill or stop its workers mid-way.
SLOW = {"type": "gaussian", "sigma": [16.0, 16.0, 16.0]}
HOSTS = "127.0.0.1,localhost"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    p = subprocess.run(["bash", SSHD, "start", str(d)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    port = int(p.stdout.split()[-1])
    assert open(d / "port").read().strip() == str(port)
    pid = int(open(d / "sshd.pid").read())
    yield {"dir": d, "port": port, "key": str(d / "id_ed25519"), "log": d / "sshd.log"}
    subprocess.run(["bash", SSHD, "stop", str(d)], timeout=60, check=True)
    assert not os.path.exists(f"/proc/{pid}/cmdline") or \
        b"sshd" not in open(f"/proc/{pid}/cmdline", "rb").read(), "sshd still running"


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("ssh")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=11), d / "in.zarr/raw", CHUNKS)
    refs = {}
    for name, op in (("gauss", GAUSS), ("slow", SLOW)):
        out = d / f"ref_{name}.zarr/o"
        volbatch("run", eu.write_job(d / f"ref_{name}.toml", raw, out, op, "float32", CHUNKS,
                                     tiling={"block": list(CHUNKS)}), "--threads", 2, "--quiet")
        refs[name] = eu.dataset_files(out)
    return {"raw": raw, "refs": refs}


def ssh_options(sshd, port=None):
    return ["-p", str(port or sshd["port"]), "-i", sshd["key"],
            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"]


def ssh_job(tmp_path, data, name, op=GAUSS, table=None):
    """A job whose [run.ssh] table is `table`; returns (job file, output, job directory)."""
    out = tmp_path / f"{name}.zarr/o"
    job = eu.write_job(tmp_path / f"{name}.toml", data["raw"], out, op, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    if table is not None:
        with open(job, "a") as f:
            f.write(eu.toml_text({"run.ssh": table}))
    return job, out, eu.jobdir_of(out)


def remote_workers(jobdir, parents=None):
    """xu.worker_pids; with `parents` (a list), the name of each one's parent process is
    appended to it."""
    pids = []
    for pid in xu.worker_pids(jobdir):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parent = open(f"/proc/{ppid}/comm").read().strip()
        except (OSError, ValueError, IndexError):
            continue
        pids.append(pid)
        if parents is not None:
            parents.append(parent)
    return pids


def accepted_logins(sshd):
    return open(sshd["log"]).read().count("Accepted publickey for root")


def assert_clean(jobdir, out):
    claims = os.path.join(jobdir, "claims")
    assert not os.listdir(claims), os.listdir(claims)
    assert not eu.temporaries(out)


def test_ssh_workers_write_what_a_local_run_writes(volbatch, sshd, data, tmp_path):
    job, out, jobdir = ssh_job(tmp_path, data, "ssh3", table={"options": ssh_options(sshd)})
    logins = accepted_logins(sshd)
    # Run from a terminal: ssh -tt puts a terminal on its stdin in raw mode (no Ctrl-C, and
    # maybe left raw afterwards), so the executor must keep the user's terminal from it.
    master, terminal = os.openpty()
    try:
        p = subprocess.Popen([volbatch.exe, "run", job, "--executor", "ssh", "--hosts", HOSTS,
                              "--workers", "3", "--quiet"], stdin=terminal,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        raw = False
        while p.poll() is None:
            raw |= not termios.tcgetattr(terminal)[3] & termios.ICANON
            time.sleep(0.02)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(terminal)
    assert p.returncode == 0, stderr
    assert not raw, "an ssh client put the terminal of `volbatch run` in raw mode"
    assert "128 done of 128" in stdout, stdout
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["gauss"], "3 workers over ssh")
    assert_clean(jobdir, out)
    # One check per host (2) and one session per worker (3), all through this sshd.
    assert accepted_logins(sshd) - logins >= 5, open(sshd["log"]).read()[-2000:]
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(128)) and not failed and counts["bad"] == 0
    assert volbatch.status(jobdir)["blocks_done"] == 128
    assert not remote_workers(jobdir)


def test_remote_workers_killed_are_started_again(volbatch, sshd, data, tmp_path):
    job, out, jobdir = ssh_job(tmp_path, data, "killed", SLOW, {"options": ssh_options(sshd)})
    # A short lease, so that a killed worker's claims are taken over within a second.
    parent = subprocess.Popen([volbatch.exe, "run", job, "--executor", "ssh", "--hosts", HOSTS,
                               "--workers", "3", "--threads", "1", "--lease", "1",
                               "--restarts", "50"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills, last = 0, 0.0
    deadline = time.monotonic() + 60
    while parent.poll() is None and kills < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
        parents = []
        victims = remote_workers(jobdir, parents)
        # Started by sshd (an sshd session process is each one's parent), not by volbatch.
        assert set(parents) <= {"sshd"}, parents
        if victims and time.monotonic() - last > 0.3:
            try:
                os.kill(victims[kills % len(victims)], signal.SIGKILL)
                kills, last = kills + 1, time.monotonic()
            except ProcessLookupError:
                pass
    stdout, stderr = parent.communicate(timeout=120)
    assert parent.returncode == 0, stderr
    assert kills == 4, f"the run ended after {kills} kills; make the job longer"
    restarted = int(stdout.split("workers restarted:")[1].split()[0])
    assert restarted >= kills, (kills, stdout, stderr)
    assert "ssh worker" in stderr and "starting it again" in stderr, stderr
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["slow"], f"after {kills} kills")
    assert_clean(jobdir, out)
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(128)) and not failed and counts["bad"] == 0
    assert not remote_workers(jobdir)


def test_sigterm_stops_the_remote_workers_and_a_resume_finishes(volbatch, sshd, data, tmp_path):
    job, out, jobdir = ssh_job(tmp_path, data, "term", SLOW, {"options": ssh_options(sshd)})
    parent = subprocess.Popen([volbatch.exe, "run", job, "--executor", "ssh", "--hosts", HOSTS,
                               "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while parent.poll() is None and time.monotonic() < deadline:
        if len(eu.read_ledgers(jobdir)[0]) >= 5 and remote_workers(jobdir):
            break
        time.sleep(0.02)
    assert parent.poll() is None, "the run ended before it could be stopped"
    parent.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    stdout, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 1, (stdout, stderr)
    assert time.monotonic() - stopped < 20, "volbatch run took too long to stop"
    assert "blocks not done" in stderr, stderr
    # Their pty closed, the remote workers got SIGHUP: they finish the blocks in hand and exit.
    while remote_workers(jobdir) and time.monotonic() - stopped < 15:
        time.sleep(0.1)
    assert not remote_workers(jobdir), "a remote worker outlived `volbatch run`"
    done, failed, counts = eu.read_ledgers(jobdir)
    assert 5 <= len(done) < 128 and not failed and counts["torn_bytes"] == 0
    assert_clean(jobdir, out)
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == len(done) and st["blocks_remaining"] == 128 - len(done)
    assert not st["in_flight"]
    p = volbatch("run", job, "--executor", "ssh", "--hosts", HOSTS, "--workers", 2, "--quiet")
    assert "128 done of 128" in p.stdout, p.stdout
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["slow"], "after SIGTERM and resume")
    assert_clean(jobdir, out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_host_that_refuses_connections_is_one_line(volbatch, sshd, data, tmp_path):
    job, _, _ = ssh_job(tmp_path, data, "refused",
                        table={"options": ssh_options(sshd, port=free_port())})
    start = time.monotonic()
    p = volbatch("run", job, "--executor", "ssh", "--hosts", "127.0.0.1", check=False, timeout=60)
    assert time.monotonic() - start < 20
    eu.one_line_error(p, "[run.ssh] hosts", "127.0.0.1", "Connection refused")


def test_a_host_without_the_executable_is_one_line(volbatch, sshd, data, tmp_path):
    job, _, _ = ssh_job(tmp_path, data, "noexe", table={
        "options": ssh_options(sshd), "volbatch": str(tmp_path / "no" / "volbatch")})
    p = volbatch("run", job, "--executor", "ssh", "--hosts", "localhost", check=False)
    eu.one_line_error(p, "[run.ssh] volbatch", "not an executable on localhost")


def test_table_errors_name_the_key(volbatch, data, tmp_path):
    job, _, jobdir = ssh_job(tmp_path, data, "nohosts", table={"options": ["-p", "22"]})
    e = eu.one_line_error(volbatch("run", job, "--executor", "ssh", check=False),
                          "[run.ssh] hosts", "--hosts")
    assert not os.path.exists(jobdir), e  # refused before anything was prepared
    job, _, _ = ssh_job(tmp_path, data, "colour", table={"hosts": ["a"], "colour": "red"})
    eu.one_line_error(volbatch("run", job, "--executor", "ssh", check=False), "[run.ssh] colour")
    job, _, _ = ssh_job(tmp_path, data, "dash", table={})
    eu.one_line_error(volbatch("run", job, "--executor", "ssh", "--hosts", "-oProxyCommand=x",
                               check=False), "[run.ssh] hosts", "-oProxyCommand=x")
