"""What the executor suites share: one test volume in 128 blocks of 32^3, its reference outputs
from a local run, and job files over it."""
import contextlib
import os
import signal

import engine_util as eu

SHAPE = (64, 256, 256)  # 128 blocks of 32^3
CHUNKS = (32, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [2.0, 2.0, 2.0]}


def reference_data(volbatch, d, seed, ops, shape=SHAPE, chunks=CHUNKS):
    """The input volume under `d` (blocks = chunks) and, per name in `ops`, the files a local
    run writes."""
    raw = eu.write_zarr2(eu.em_volume(shape, seed=seed), d / "in.zarr/raw", chunks)
    refs = {}
    for name, op in ops.items():
        out = d / f"ref_{name}.zarr/o"
        volbatch("run", eu.write_job(d / f"ref_{name}.toml", raw, out, op, "float32", chunks,
                                     tiling={"block": list(chunks)}),
                 "--executor", "local", "--threads", 2, "--quiet")
        refs[name] = eu.dataset_files(out)
    return {"dir": d, "raw": raw, "refs": refs}


def job(tmp_path, data, name, op=GAUSS, run=None):
    """A job over data["raw"] writing tmp_path/<name>.zarr/o: (job file, output, job directory)."""
    out = tmp_path / f"{name}.zarr/o"
    path = eu.write_job(tmp_path / f"{name}.toml", data["raw"], out, op, "float32", CHUNKS,
                        tiling={"block": list(CHUNKS)}, run=run)
    return path, out, eu.jobdir_of(out)


def worker_pids(jobdir):
    """PIDs of the `volbatch work JOBDIR ...` processes running now, found in /proc by their
    command line (not mpirun's or a shell's that merely mention it)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == b"work" and argv[2] == os.fsencode(str(jobdir)):
            pids.append(int(pid))
    return pids


@contextlib.contextmanager
def frozen(pids):
    """Workers stopped (SIGSTOP) for the block, continued after: a test that kills or cancels a
    worker mid-run freezes them first, or a fast machine finishes the job before the kill lands."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def blocks_done(jobdir):
    """How many blocks the job's ledgers record as done (0 before the first one)."""
    return len(eu.read_ledgers(jobdir)[0])
