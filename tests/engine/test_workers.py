"""Workers (`volbatch work`, `--executor processes`): N processes on one job directory split the
blocks through exclusive claims, take over the claims of a worker that died, and write exactly
what one local run writes: after 20+ SIGKILLs of random workers, with two workers given the same
index, and with a worker stopped by SIGTERM."""
import os
import random
import signal
import struct
import subprocess
import time

import pytest

import engine_util as eu

SHAPE = (64, 256, 256)  # 128 blocks of 32^3
CHUNKS = (32, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [2.0, 2.0, 2.0]}


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


def test_workers_killed_many_times_still_finish_bit_identical(volbatch, reference, tmp_path):
    # A heavier kernel over a larger volume, so that the run lasts long enough for 20+ kills
    # (a killed worker's runs are taken over at once by its restart: no lease to wait).
    slow = {"type": "gaussian", "sigma": [7.0, 7.0, 7.0]}
    raw = eu.write_zarr2(eu.em_volume((320, 256, 256), seed=12), tmp_path / "big.zarr/raw",
                         CHUNKS)
    ref_out = tmp_path / "slow_ref.zarr/o"
    volbatch("run", eu.write_job(tmp_path / "slow_ref.toml", raw, ref_out, slow,
                                 "float32", CHUNKS, tiling={"block": list(CHUNKS)}),
             "--threads", 2, "--quiet")
    out = tmp_path / "killed.zarr/o"
    jobdir = eu.jobdir_of(out)
    job = eu.write_job(tmp_path / "killed.toml", raw, out, slow, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    # A short lease, so that a killed worker's claims are taken over within a second.
    parent = subprocess.Popen([volbatch.exe, "run", str(job), "--executor", "processes",
                               "--workers", "3", "--threads", "1", "--lease", "1",
                               "--restarts", "200"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 240
    while parent.poll() is None and kills < 40 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.01, 0.05))
        # Running or sleeping children only: a zombie awaiting its restart is dead already.
        children = subprocess.run(["pgrep", "-r", "R,S,D", "-P", str(parent.pid)],
                                  capture_output=True,
                                  text=True).stdout.split()
        if children:
            try:
                os.kill(int(rng.choice(children)), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    stdout, stderr = parent.communicate(timeout=300)
    assert parent.returncode == 0, stderr
    assert kills >= 20, f"the run ended after {kills} kills; make the job longer"
    restarted = int(stdout.split("workers restarted:")[1].split()[0])
    assert restarted >= 20, (kills, stdout)
    eu.assert_same_files(eu.dataset_files(out), eu.dataset_files(ref_out), f"after {kills} kills")
    assert_clean(jobdir, out)
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(640)) and not failed and counts["bad"] == 0


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
    assert seen and all(c["worker"] == 0 and c["pid"] == p.pid for c in seen), seen
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
