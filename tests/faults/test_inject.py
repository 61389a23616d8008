"""Injected I/O faults on the write path (strace -e inject, see PLATFORM.md): an error (ENOSPC,
EIO) on write, rename, syncfs, fdatasync or openat makes the run fail with one line and never
record a block whose chunks are not durable; SIGKILL at the Nth call of each of those syscalls
leaves nothing a resume cannot finish. After every fault a plain resume writes exactly what an
undisturbed run writes."""
import os
import subprocess

import numpy as np
import pytest

import engine_util as eu

SHAPE = (64, 128, 128)
CHUNKS = (32, 32, 32)  # 32 blocks
GAUSS = {"type": "gaussian", "sigma": [1.5, 1.5, 1.5]}
# The write path's syscalls and how often one undisturbed run makes them (counted below).
SYSCALLS = ["write", "rename", "syncfs", "fdatasync", "openat"]


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("inject")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=4), d / "in.zarr/raw", CHUNKS)
    ref = d / "ref.zarr/o"
    volbatch("run", eu.write_job(d / "ref.toml", raw, ref, GAUSS, "float32", CHUNKS,
                                 tiling={"block": list(CHUNKS)}), "--quiet", "--threads", 1)
    # How many times one run calls each syscall (strace -c), so faults land inside the run.
    counts_file = d / "counts.txt"
    out = d / "count.zarr/o"
    job = eu.write_job(d / "count.toml", raw, out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    subprocess.run(["strace", "-f", "-c", "-o", str(counts_file), volbatch.exe, "run", job,
                    "--quiet", "--threads", "1"], check=True, capture_output=True)
    calls = {}
    for line in open(counts_file):
        f = line.split()
        if len(f) >= 5 and f[-1] in SYSCALLS:
            calls[f[-1]] = int(f[3])
    assert set(calls) == set(SYSCALLS), calls
    return {"raw": raw, "ref": eu.dataset_files(ref), "calls": calls}


def job_for(tmp_path, data, name):
    out = tmp_path / f"{name}.zarr/o"
    job = eu.write_job(tmp_path / f"{name}.toml", data["raw"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)}, run={"retries": 0})
    return job, out


def injected(volbatch, job, spec):
    return subprocess.run(["strace", "-f", "-o", "/dev/null", "-e", f"inject={spec}",
                           volbatch.exe, "run", job, "--quiet", "--threads", "1"],
                          capture_output=True, text=True, timeout=120)


def check_consistent(out, data):
    """Every chunk present equals the reference; every block recorded done has its chunk."""
    files = eu.dataset_files(out) if os.path.isdir(out) else {}
    # A temporary left by a killed write is allowed: the next run sweeps it (checked after).
    chunks = {k: v for k, v in files.items()
              if k.startswith("c/") and ".tmp." not in k.rsplit("/", 1)[-1]}
    for key, value in chunks.items():
        assert value == data["ref"][key], f"chunk {key} differs from the reference"
    jobdir = eu.jobdir_of(out)
    if os.path.isdir(os.path.join(jobdir, "ledger")):
        done, _, counts = eu.read_ledgers(jobdir)
        assert counts["bad"] == 0
        grid = eu.grid_shape(SHAPE, CHUNKS)
        for b in done:
            key = "c/" + "/".join(map(str, np.unravel_index(b, grid)))
            assert key in chunks, f"block {b} recorded done without its chunk {key}"


def resume_is_identical(volbatch, job, out, data, what):
    volbatch("run", job, "--quiet", "--threads", 1)
    eu.assert_same_files(eu.dataset_files(out), data["ref"], what)
    assert not eu.temporaries(out), (what, eu.temporaries(out))


@pytest.mark.parametrize("syscall,error", [
    ("write", "ENOSPC"), ("write", "EIO"), ("rename", "EIO"), ("rename", "ENOSPC"),
    ("syncfs", "EIO"), ("fdatasync", "EIO"), ("fdatasync", "ENOSPC"), ("openat", "EIO")])
def test_an_io_error_fails_the_block_and_a_resume_completes(volbatch, data, tmp_path, syscall,
                                                            error):
    job, out = job_for(tmp_path, data, f"{syscall}_{error}")
    # Past the start (job.json, statistics) and into the blocks: the middle call of the run.
    n = max(1, data["calls"][syscall] // 2)
    p = injected(volbatch, job, f"{syscall}:error={error}:when={n}")
    what = f"{syscall} {error} at call {n}"
    # The fault is reported (a failed block, [run] retries = 0, or a failed ledger append),
    # never swallowed.
    assert p.returncode == 1, (what, p.returncode, p.stderr)
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("volbatch: "), (what, p.stderr)
    message = {"ENOSPC": "No space left on device", "EIO": "Input/output error"}[error]
    assert message in last, (what, p.stderr)
    check_consistent(out, data)
    resume_is_identical(volbatch, job, out, data, what)


@pytest.mark.parametrize("syscall", SYSCALLS)
def test_sigkill_at_each_write_path_call_then_resume(volbatch, data, tmp_path, syscall):
    total = data["calls"][syscall]
    # Five points spread over the run, first and last included.
    points = sorted({1, total} | {max(1, total * k // 4) for k in (1, 2, 3)})
    for n in points:
        job, out = job_for(tmp_path, data, f"kill_{syscall}_{n}")
        p = injected(volbatch, job, f"{syscall}:signal=SIGKILL:when={n}")
        what = f"SIGKILL at {syscall} call {n} of {total}"
        assert p.returncode != 0 or eu.dataset_files(out) == data["ref"], what
        check_consistent(out, data)
        resume_is_identical(volbatch, job, out, data, what)
