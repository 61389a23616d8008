"""The mpi executor under a real `mpirun` (Open MPI): rank 0 hands out blocks to the other
ranks, the output equals a local run's, a rank killed mid-run ends the job with a clear message
and a resume computes exactly what is missing."""
import json
import os
import signal
import subprocess
import time

import pytest

import engine_util as eu
import exec_util as xu
from exec_util import GAUSS, job

SLOW = {"type": "gaussian", "sigma": [9.0, 9.0, 9.0]}


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    return xu.reference_data(volbatch, tmp_path_factory.mktemp("mpi_data"), 3,
                             {"fast": GAUSS, "slow": SLOW})


def ranks_of(jobdir):
    """pid -> MPI rank of the `volbatch work JOBDIR --mpi` processes (from /proc)."""
    ranks = {}
    for pid in xu.worker_pids(jobdir):
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        for e in env:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                ranks[pid] = int(e.split(b"=")[1])
    return ranks


@pytest.mark.parametrize("workers", [1, 3])
def test_mpi_writes_what_a_local_run_writes(volbatch, data, tmp_path, workers):
    path, out, jobdir = job(tmp_path, data, f"mpi{workers}")
    p = volbatch("run", path, "--executor", "mpi", "--workers", workers, "--threads", 1,
                 "--quiet")
    assert "128 done of 128" in p.stdout, p.stdout
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["fast"], f"mpi x{workers}")
    # One ledger per computing rank (1..N); rank 0 only hands out blocks, once each.
    assert sorted(os.listdir(os.path.join(jobdir, "ledger"))) == \
        [f"worker-{r:04d}.log" for r in range(1, workers + 1)]
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(128)) and not failed and counts["records"] == 128
    queue = json.load(open(os.path.join(jobdir, "summary.mpi.json")))
    assert queue["blocks_done"] == 128 and queue["blocks_skipped"] == 0
    assert not os.path.exists(os.path.join(jobdir, "claims"))  # the queue needs no claims
    assert_queue_rank_did_not_spin(queue, workers)


def assert_queue_rank_did_not_spin(queue, workers):
    """Rank 0 waits for requests with pauses, so its CPU time is its start (MPI_Init, reading
    the ledgers: under 0.1 s here) and 1-2% of its wall time; a rank 0 that busy-polls (a
    blocking MPI_Recv in Open MPI) costs 50-100% of its wall time on these 2 cores. Only a
    machine so loaded that rank 0 gets under 10% of a core could hide that, never fake it."""
    assert len(queue["worker_cpu_s"]) == workers and min(queue["worker_cpu_s"]) > 0, queue
    bound = 0.2 + 0.1 * queue["wall_s"]
    assert queue["queue_cpu_s"] < bound, \
        f"rank 0 used {queue['queue_cpu_s']:.2f} s of CPU in {queue['wall_s']:.2f} s " \
        f"(workers: {queue['worker_cpu_s']}); did it spin while waiting?"


def test_a_killed_rank_ends_the_job_and_a_resume_completes(volbatch, data, tmp_path):
    path, out, jobdir = job(tmp_path, data, "killed", op=SLOW)
    run = subprocess.Popen([volbatch.exe, "run", path, "--executor", "mpi", "--workers", "2",
                            "--threads", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    rank2_ledger = os.path.join(jobdir, "ledger", "worker-0002.log")
    # Rank 2 must hold blocks when it dies: it has recorded some (it is past MPI_Init and in
    # the queue's rotation) and the job has most of its blocks left.
    while time.monotonic() < deadline and run.poll() is None:
        if os.path.exists(rank2_ledger) and os.path.getsize(rank2_ledger) >= 2 * 32 and \
                xu.blocks_done(jobdir) >= 8:
            break
        time.sleep(0.005)
    ranks = ranks_of(jobdir)
    assert 2 in ranks.values(), "rank 2 was not found running"
    victim = next(pid for pid, r in ranks.items() if r == 2)
    with xu.frozen([pid for pid, r in ranks.items() if r != 0]):
        at_kill = xu.blocks_done(jobdir)
        assert at_kill < 100, f"{at_kill} blocks were done before the kill; make the job longer"
        os.kill(victim, signal.SIGKILL)
        # The other ranks stay frozen until mpirun has ended the job: on a busy machine a rank
        # let go at once could finish every block before mpirun noticed (and mpirun then ends
        # with 0).
        until = time.monotonic() + 60
        while run.poll() is None and time.monotonic() < until:
            time.sleep(0.01)
    killed = time.monotonic()
    stdout, stderr = run.communicate(timeout=120)
    print(f"volbatch run exited {run.returncode}; {at_kill} blocks were done at the kill, "
          f"{xu.blocks_done(jobdir)} at the end, {time.monotonic() - killed:.1f} s later\n"
          f"--- stdout\n{stdout}\n--- stderr\n{stderr}")
    assert run.returncode == 1, "the run did not fail after a rank was killed (see stdout)"
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("volbatch: mpirun ended with") and "run again" in last, stderr
    done, failed, counts = eu.read_ledgers(jobdir)
    assert 8 <= len(done) < 128 and not failed and counts["torn_bytes"] == 0
    assert not ranks_of(jobdir), "a rank outlived mpirun"
    st = volbatch.status(jobdir)
    assert st["blocks_remaining"] == 128 - len(done)
    # The resume computes only the blocks no ledger has, and the result is the same.
    p = volbatch("run", path, "--executor", "mpi", "--workers", 2, "--threads", 1, "--quiet")
    assert "128 done of 128" in p.stdout, p.stdout
    queue = json.load(open(os.path.join(jobdir, "summary.mpi.json")))
    assert queue["blocks_skipped"] == len(done) and queue["blocks_done"] == 128 - len(done)
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["slow"], "after a killed rank")
    assert not eu.temporaries(out)


def test_mpi_needs_two_ranks_and_a_valid_table(volbatch, data, tmp_path):
    path, _, jobdir = job(tmp_path, data, "single")
    volbatch("run", path, "--prepare")
    e = eu.one_line_error(volbatch("work", jobdir, "--mpi", check=False))
    assert "needs at least 2 ranks" in e, e
    path, _, _ = job(tmp_path, data, "bad", run={"mpi": {"np": 4}})
    e = eu.one_line_error(volbatch("run", path, "--executor", "mpi", check=False))
    assert "np" in e, e
    path, _, _ = job(tmp_path, data, "nompirun", run={"mpi": {"mpirun": "no-such-mpirun"}})
    e = eu.one_line_error(volbatch("run", path, "--executor", "mpi", check=False))
    assert "no-such-mpirun is not on PATH" in e, e
