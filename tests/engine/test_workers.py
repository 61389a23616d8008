"""Workers (`volbatch work`, `--executor processes`): N processes on one job directory split the
blocks through exclusive claims, take over the claims of a worker that died, and write exactly
what one local run writes: after 20+ SIGKILLs of random workers, with two workers given the same
index, and with a worker stopped by SIGTERM. A worker that dies at start-up is started again
after growing pauses and given up after 3 deaths in a row, with one line quoting its last line."""
import json
import os
import random
import re
import signal
import struct
import subprocess
import threading
import time

import pytest

import engine_util as eu

SHAPE = (64, 256, 256)  # 128 blocks of 32^3
CHUNKS = (32, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [2.0, 2.0, 2.0]}
GIVE_UP_AFTER = 3  # RestartPolicy::kGiveUpAfter (src/volbatch/exec/restart_policy.h)


@pytest.fixture(scope="module")
def reference(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("workers")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=11), d / "in.zarr/raw", CHUNKS)
    out = d / "ref.zarr/o"
    job = eu.write_job(d / "ref.toml", raw, out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    volbatch("run", job, "--threads", 2, "--quiet")
    return {"dir": d, "raw": raw, "files": eu.dataset_files(out)}


def job_for(tmp_path, reference, name):
    out = tmp_path / f"{name}.zarr/o"
    job = eu.write_job(tmp_path / f"{name}.toml", reference["raw"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    return job, out, eu.jobdir_of(out)


def reference_and_job(volbatch, tmp_path, shape, chunks, op, seed):
    """A volume of `shape`, the operator's output from a local run (the reference), and a job
    writing the same elsewhere: (reference output, job file, output, job directory)."""
    raw = eu.write_zarr2(eu.em_volume(shape, seed=seed), tmp_path / "in.zarr/raw", chunks)
    ref = tmp_path / "ref.zarr/o"
    volbatch("run", eu.write_job(tmp_path / "ref.toml", raw, ref, op, "float32", chunks,
                                 tiling={"block": list(chunks)}), "--threads", 2, "--quiet")
    out = tmp_path / "job.zarr/o"
    job = eu.write_job(tmp_path / "job.toml", raw, out, op, "float32", chunks,
                       tiling={"block": list(chunks)})
    return ref, job, out, eu.jobdir_of(out)


def ledger_blocks(jobdir):
    """Every done record, per ledger file: [(file, block)]."""
    records = []
    d = os.path.join(jobdir, "ledger")
    for name in sorted(os.listdir(d)):
        data = open(os.path.join(d, name), "rb").read()
        for off in range(0, len(data) - len(data) % 32, 32):
            _m, status, block, _t, _ms, _c = struct.unpack("<4sB3xQQII", data[off:off + 32])
            if status == 1:
                records.append((name, block))
    return records


def running_children(pid):
    """PIDs of a process's children that run or sleep (a zombie awaiting its restart is dead
    already), from /proc: cheaper than pgrep, which reads every process's status."""
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            kids += open(f"/proc/{pid}/task/{tid}/children").read().split()
        except OSError:
            pass
    alive = []
    for kid in kids:
        try:
            state = open(f"/proc/{kid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state in ("R", "S", "D"):
            alive.append(int(kid))
    return alive


def worker_index(pid):
    """The --worker index of a `volbatch work` process, or None (not one, or not exec'd yet)."""
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return None
    if len(argv) > 2 and argv[1] == b"work" and b"--worker" in argv:
        return int(argv[argv.index(b"--worker") + 1])
    return None


def ledger_records(jobdir, worker):
    try:
        return os.path.getsize(os.path.join(jobdir, "ledger", f"worker-{worker:04d}.log")) // 32
    except FileNotFoundError:
        return 0


def immutable(path):
    """chattr +i: not even root can create a file in the directory (chmod does not stop root).
    Skips the test where that cannot be done (not root, a filesystem without the flag)."""
    p = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"chattr +i {path}: {p.stderr.strip()} (needs root and ext4, xfs or btrfs)")


def assert_clean(jobdir, out):
    held = eu.claims_in_hand(jobdir)
    assert not held, held
    assert not eu.temporaries(out)


def test_processes_executor_writes_what_a_local_run_writes(volbatch, reference, tmp_path):
    job, out, jobdir = job_for(tmp_path, reference, "p3")
    p = volbatch("run", job, "--executor", "processes", "--workers", 3, "--threads", 1,
                 "--quiet")
    assert "128 done of 128" in p.stdout, p.stdout
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "3 workers")
    assert_clean(jobdir, out)
    # Each worker has its own ledger, every block is recorded once, and work was shared.
    records = ledger_blocks(jobdir)
    assert sorted(b for _, b in records) == list(range(128))
    assert len({f for f, _ in records}) == 3
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == 128 and st["ledgers"] == 3


def libraries_opened_by_workers(volbatch, job, tmp_path, env=None):
    """{worker pid: shared libraries it opened} of a 3-worker run under `strace -f`; a worker is
    the process that opened its ledger for appending (the pool only reads them)."""
    trace = tmp_path / "openat.txt"
    subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=openat", volbatch.exe, "run",
                    job, "--executor", "processes", "--workers", "3", "--threads", "1", "--quiet"],
                   check=True, capture_output=True, env={**os.environ, **(env or {})})
    opened = {}
    for line in open(trace):
        pid, _, call = line.partition(" ")
        m = re.search(r'openat\(AT_FDCWD, "([^"]+)", ([A-Z_|]+)', call)
        if m:
            opened.setdefault(int(pid), []).append((m.group(1), m.group(2)))
    workers = {pid: [f for f, _ in files if ".so" in os.path.basename(f)]
               for pid, files in opened.items()
               if any(re.search(r"ledger/worker-\d{4}\.log$", f) and "O_APPEND" in flags
                      for f, flags in files)}
    assert len(workers) == 3, sorted(opened)
    return workers


def test_processes_workers_start_without_the_dynamic_loader(volbatch, reference, tmp_path):
    # Started by the spawn server (spawn_server.h): no worker opens a shared library, and the
    # output is what a local run writes.
    job, out, jobdir = job_for(tmp_path, reference, "forked")
    workers = libraries_opened_by_workers(volbatch, job, tmp_path)
    assert all(libs == [] for libs in workers.values()), workers
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "forked workers")
    assert_clean(jobdir, out)
    # VOLBATCH_SPAWN_SERVER=0: each worker exec's, and its loader opens the libraries again.
    job, out, jobdir = job_for(tmp_path, reference, "execd")
    workers = libraries_opened_by_workers(volbatch, job, tmp_path,
                                          env={"VOLBATCH_SPAWN_SERVER": "0"})
    assert all(any("libvolbatch_core.so" in f for f in libs) for libs in workers.values()), workers
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "exec'd workers")


def test_workers_killed_many_times_still_finish_bit_identical(volbatch, reference, tmp_path):
    # A heavier kernel over a larger volume, so that the run lasts long enough for 20+ kills
    # (a killed worker's runs are taken over at once by its restart: no lease to wait).
    slow = {"type": "gaussian", "sigma": [7.0, 7.0, 7.0]}
    ref_out, job, out, jobdir = reference_and_job(volbatch, tmp_path, (320, 256, 256), CHUNKS,
                                                  slow, seed=12)
    # A short lease, so that a killed worker's claims are taken over within a second.
    parent = subprocess.Popen([volbatch.exe, "run", str(job), "--executor", "processes",
                               "--workers", "3", "--threads", "1", "--lease", "1",
                               "--restarts", "200"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The pool gives up a worker that died GIVE_UP_AFTER times in a row without recording a
    # block, as one that fails at start-up would. This test is about workers that get somewhere
    # between kills: it kills at random moments, start-up included, but spares a worker that
    # one more such death would give up until its ledger has grown. The pool says which those
    # are: it starts such a worker again after the longest pause ("in 1 s"), and counts its
    # next death as one with a block if its ledger grew after the pool said so.
    err_lines, out_lines = [], []
    readers = [threading.Thread(target=lambda f=f, to=to: [to.append(l) for l in f], daemon=True)
               for f, to in ((parent.stderr, err_lines), (parent.stdout, out_lines))]
    for r in readers:
        r.start()
    last_pause = "in %g s" % (0.5 * 2 ** (GIVE_UP_AFTER - 2))
    spared = {}  # worker -> its ledger's records when the pool said it
    rng = random.Random(7)
    kills, seen = 0, 0
    deadline = time.monotonic() + 240
    while parent.poll() is None and kills < 40 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.01, 0.05))
        children = running_children(parent.pid)
        # After pgrep: a worker found running was started after the pool's line about it.
        for line in err_lines[seen:]:
            m = re.match(r"volbatch: processes worker (\d+) died .*; starting it again "
                         r"(in [\d.]+ s)?", line)
            if m and m.group(2) == last_pause:
                spared[int(m.group(1))] = ledger_records(jobdir, int(m.group(1)))
            elif m:
                spared.pop(int(m.group(1)), None)
            seen += 1
        victims = []
        for pid in children:
            w = worker_index(pid)
            if w is not None and ledger_records(jobdir, w) > spared.get(w, -1):
                victims.append(pid)
        if victims:
            try:
                os.kill(rng.choice(victims), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    parent.wait(timeout=300)
    for r in readers:
        r.join(timeout=60)
    stdout, stderr = "".join(out_lines), "".join(err_lines)
    assert parent.returncode == 0, stderr
    assert kills >= 20, f"the run ended after {kills} kills; make the job longer"
    restarted = int(stdout.split("workers restarted:")[1].split()[0])
    assert restarted >= 20, (kills, stdout)
    assert "not restarting it" not in stderr, stderr
    eu.assert_same_files(eu.dataset_files(out), eu.dataset_files(ref_out), f"after {kills} kills")
    assert_clean(jobdir, out)
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(640)) and not failed and counts["bad"] == 0


def holder_pids(jobdir):
    """Pids of the worker processes that hold runs now (claims/holders/W.P.H, claims.h)."""
    d = os.path.join(jobdir, "claims", "holders")
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    pids = []
    for n in names:
        parts = n.split(".")
        if not n.startswith(".") and len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
            pids.append(int(parts[1]))
    return pids


def test_64_workers_killed_mid_batch_still_finish_bit_identical(volbatch, tmp_path):
    # Issue 16: 64 workers claiming runs of small blocks; 20+ SIGKILLs, each of a worker that
    # holds a run at that moment (its holder file names it), so every kill leaves a batch half
    # done that another worker must take over.
    # 8192 blocks, ~6 s undisturbed here: time for 25 kills after the 64 workers started.
    shape, chunks = (256, 256, 512), (16, 16, 16)
    op = {"type": "gaussian", "sigma": [4.0, 4.0, 4.0]}
    ref, job, out, jobdir = reference_and_job(volbatch, tmp_path, shape, chunks, op, seed=64)
    parent = subprocess.Popen([volbatch.exe, "run", str(job), "--executor", "processes",
                               "--workers", "64", "--threads", "1", "--lease", "2",
                               "--restarts", "500"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The pipes are drained as the run goes (64 workers can fill them).
    output = {}
    readers = [threading.Thread(target=lambda k, f: output.__setitem__(k, f.read()), args=a)
               for a in (("out", parent.stdout), ("err", parent.stderr))]
    for r in readers:
        r.start()
    rng = random.Random(16)
    kills, mid_batch = 0, 0
    deadline = time.monotonic() + 300
    while parent.poll() is None and kills < 25 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.01, 0.05))
        pids = holder_pids(jobdir)
        if not pids:
            continue
        pid = rng.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
            kills += 1
        except ProcessLookupError:
            pass
    parent.wait(timeout=600)
    for r in readers:
        r.join()
    assert parent.returncode == 0, output["err"][-3000:]
    assert kills >= 20, f"the run ended after {kills} kills; make the job longer"
    eu.assert_same_files(eu.dataset_files(out), eu.dataset_files(ref), f"after {kills} kills")
    assert_clean(jobdir, out)
    assert not os.listdir(os.path.join(jobdir, "claims"))  # the executor's sweep
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(8192)) and not failed and counts["bad"] == 0
    # The runs of killed workers were taken over (and counted in the takers' summaries).
    taken_over = sum(json.load(open(os.path.join(jobdir, n))).get("blocks_taken_over", 0)
                     for n in os.listdir(jobdir) if n.startswith("summary.worker-"))
    assert taken_over > 0


def given_up_line(stderr, worker):
    """The pool's line giving up `worker`, and the last line it quotes."""
    pattern = (rf'volbatch: processes worker {worker} died {GIVE_UP_AFTER} times without recording '
               r'a block \(exit 1\); not restarting it; its last line: "(.*)"')
    lines = [m for m in map(re.compile(pattern).fullmatch, stderr.splitlines()) if m]
    assert len(lines) == 1, stderr
    return lines[0].group(0), lines[0].group(1)


def test_workers_that_die_at_start_up_back_off_and_are_given_up(volbatch, reference, tmp_path):
    # A job directory the workers cannot write in (as one owned by another user, or a
    # read-only mount): every worker dies at start-up, opening its ledger, and `run` itself,
    # which only reads there, goes on.
    job, out, jobdir = job_for(tmp_path, reference, "startup")
    volbatch("run", job, "--prepare")
    ledger = os.path.join(jobdir, "ledger")
    os.makedirs(ledger, exist_ok=True)
    immutable(ledger)
    try:
        start = time.monotonic()
        p = volbatch("run", job, "--executor", "processes", "--workers", 2, "--restarts", 10,
                     check=False, timeout=120)
        took = time.monotonic() - start
    finally:
        subprocess.run(["chattr", "-i", ledger], check=True)
    assert p.returncode == 1, (p.stdout, p.stderr)
    # Each worker: dies, 0.5 s, dies, 1 s, dies, given up: 2 restarts each of the 10 allowed,
    # and the pauses take the time that restarts without them would not.
    restarted = int(p.stdout.split("workers restarted:")[1].split()[0])
    assert restarted == 2 * (GIVE_UP_AFTER - 1), (p.stdout, p.stderr)
    assert 1.5 <= took < 30, took
    assert "starting it again in 0.5 s" in p.stderr and "starting it again in 1 s" in p.stderr
    for w in (0, 1):
        line, last = given_up_line(p.stderr, w)
        # The worker's own last line, which also reached stderr as it printed it.
        assert f"worker-{w:04d}.log" in last and "Operation not permitted" in last, line
        assert last in p.stderr.splitlines(), p.stderr
    final = p.stderr.strip().splitlines()[-1]
    assert re.match(r"volbatch: 128 blocks not done \(processes worker [01] died 3 times .*; "
                    r"and 1 more\); run again", final), final
    assert eu.read_ledgers(jobdir)[0] == set()


def test_the_others_finish_the_blocks_of_a_worker_given_up(volbatch, reference, tmp_path):
    # Worker 0's ledger exists and can be appended to; worker 1 cannot create its own.
    job, out, jobdir = job_for(tmp_path, reference, "one_broken")
    volbatch("run", job, "--prepare")
    ledger = os.path.join(jobdir, "ledger")
    os.makedirs(ledger, exist_ok=True)
    open(os.path.join(ledger, "worker-0000.log"), "wb").close()
    immutable(ledger)
    try:
        p = volbatch("run", job, "--executor", "processes", "--workers", 2, "--threads", 1,
                     "--quiet", check=False, timeout=300)
    finally:
        subprocess.run(["chattr", "-i", ledger], check=True)
    assert p.returncode == 0, p.stderr
    assert "128 done of 128" in p.stdout, p.stdout
    given_up_line(p.stderr, 1)  # printed even with --quiet
    assert "processes worker 0 died" not in p.stderr, p.stderr
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "one worker given up")
    assert_clean(jobdir, out)


def test_two_workers_with_the_same_index_write_once(volbatch, reference, tmp_path):
    # The two-pods case: a Kubernetes index started twice. Claims keep them off each other's
    # blocks; both append to the same ledger, one record per block.
    job, out, jobdir = job_for(tmp_path, reference, "twins")
    volbatch("run", job, "--prepare")
    a = volbatch.popen("work", jobdir, "--worker", 0, "--of", 1, "--threads", 1, "--quiet")
    b = volbatch.popen("work", jobdir, "--worker", 0, "--of", 1, "--threads", 1, "--quiet")
    assert a.wait(timeout=300) == 0, a.stderr.read()
    assert b.wait(timeout=300) == 0, b.stderr.read()
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "twins")
    records = ledger_blocks(jobdir)
    assert sorted(b for _, b in records) == list(range(128)), "a block recorded twice or never"
    assert_clean(jobdir, out)


def test_sigterm_finishes_the_blocks_in_hand_and_a_resume_completes(volbatch, reference,
                                                                     tmp_path):
    job, out, jobdir = job_for(tmp_path, reference, "term")
    volbatch("run", job, "--prepare")
    p = volbatch.popen("work", jobdir, "--worker", 0, "--of", 1, "--threads", 1)
    ledger = os.path.join(jobdir, "ledger", "worker-0000.log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if os.path.exists(ledger) and os.path.getsize(ledger) >= 5 * 32:
            break
        time.sleep(0.005)
    # While it runs, status shows its blocks in flight, from the claims.
    seen = []
    while time.monotonic() < deadline and p.poll() is None and not seen:
        seen = volbatch.status(jobdir)["in_flight"]
    assert seen and all(c["worker"] == 0 and c["pid"] == p.pid and c["lanes"] for c in seen), seen
    p.send_signal(signal.SIGTERM)
    err = p.stderr.read()
    assert p.wait(timeout=120) == 143, err
    assert "stopped by SIGTERM" in err, err
    done, _, counts = eu.read_ledgers(jobdir)
    assert 5 <= len(done) < 128 and counts["torn_bytes"] == 0
    assert_clean(jobdir, out)  # no claim left in hand by a clean stop: its runs are given back
    released = os.listdir(os.path.join(jobdir, "claims", "holders"))
    assert all(n.startswith(f"released.0.{p.pid}.") for n in released), released
    volbatch("work", jobdir, "--worker", 0, "--of", 1, "--quiet")
    assert not os.listdir(os.path.join(jobdir, "claims", "holders"))
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "after SIGTERM")


def test_work_refuses_bad_arguments_and_missing_job_directories(volbatch, tmp_path):
    e = eu.one_line_error(volbatch("work", tmp_path / "none", "--worker", 0, "--of", 1,
                                   check=False))
    assert "not a job directory" in e and "none" in e
    e = eu.one_line_error(volbatch("work", tmp_path, "--worker", 3, "--of", 2, check=False))
    assert "--worker 3 --of 2" in e
