"""Jobs from Python: run a job file (or TOML text, or a dict of its tables) like `volbatch run`,
or drive it from another engine like `volbatch work`: prepare() once, then work(jobdir, i, n)
for i in range(n) anywhere the job directory and the data are visible (a Dask or Parsl app,
threads, processes). Results are bit-identical to `volbatch run` whatever runs the workers.
Every call that computes releases the GIL.
"""
import json
import os
import shutil
from collections.abc import Mapping

from . import _volbatch as _vb
from ._dataset import _json_default

__all__ = ["run", "prepare", "work", "cleanup", "status", "blocks", "executable"]


def _job_source(job):
    """(kind, text) for the native half: "file" (a path), "toml" (TOML text) or "dict"."""
    if isinstance(job, Mapping):
        return "dict", json.dumps(job, default=_json_default)
    if isinstance(job, os.PathLike):
        return "file", os.fspath(job)
    if isinstance(job, str):
        # A path never holds a newline; one-line TOML text still has "key = value".
        if "\n" in job or ("=" in job and not os.path.exists(job)):
            return "toml", job
        return "file", job
    raise TypeError(f"job: a TOML file path, TOML text or a dict of tables, not "
                    f"{type(job).__name__}")


def executable():
    """The volbatch command the executors other than "local" start as workers: $VOLBATCH_EXECUTABLE,
    the one installed with this package, the build tree's, or `volbatch` on PATH; None if none."""
    return _find_executable()


def _find_executable():
    env = os.environ.get("VOLBATCH_EXECUTABLE")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(_vb.__file__))
    for candidate in (os.path.join(here, "bin", "volbatch"),  # pip install
                      os.path.join(here, "..", "..", "volbatch")):  # build/python/volbatch
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return os.path.normpath(candidate)
    return shutil.which("volbatch")


def run(job, executor="local", workers=None, threads=None, resume=False, force=False,
        quiet=True, lease=60.0, restarts=10, executable=None, check=True):
    """Runs every block of `job` not yet done, like `volbatch run` (resumes by default).

    job: a TOML job file, TOML text, or a dict of tables ({"input": {...}, "output": {...},
    "operator": {...}}; relative paths are relative to the current directory). executor:
    "local" (this process, `threads` threads) or one of "processes", "slurm", "mpi", "ssh",
    "lsf", "k8s", which start `workers` volbatch commands (`executable`, default
    volbatch.executable()). Returns the job's status (volbatch.status) plus "complete",
    "restarts", "messages" and "problem". With check (default), a job left incomplete raises
    volbatch.JobFailed (its .status is that dict); running it again resumes it."""
    kind, text = _job_source(job)
    if executable is None and executor != "local":
        executable = _find_executable()
        if executable is None:
            raise _vb.InvalidArgument(
                f"executor {executor!r} starts volbatch worker commands: pass executable= or "
                "set VOLBATCH_EXECUTABLE to the volbatch program")
    result = json.loads(_vb._run(kind, text, str(executor), int(workers or 0), int(threads or 0),
                                 bool(resume), bool(force), bool(quiet), float(lease),
                                 int(restarts), os.fspath(executable or "")))
    if not quiet:
        for m in result["messages"]:
            print(m, end="" if m.endswith("\n") else "\n")
    if check and not result["complete"] and not result["submitted_only"]:
        raise _job_failed(result, result["problem"])
    return result


def _job_failed(status, problem):
    e = _vb.JobFailed(f"{status['jobdir']}: {problem}; run again to finish them")
    e.status = status
    return e


def prepare(job, threads=None, resume=False, force=False):
    """Resolves the job, creates (or checks) its job directory and its output, and returns the
    job directory, ready for work(jobdir, i, n) (like `volbatch run --prepare`)."""
    kind, text = _job_source(job)
    return _vb._prepare(kind, text, int(threads or 0), bool(resume), bool(force))


def work(jobdir, worker, of, threads=None, lease=60.0, quiet=True):
    """Worker `worker` of `of` on a prepared job directory, like `volbatch work`: computes its
    share of the blocks, then helps with the others', and returns its summary (a dict:
    blocks_done, blocks_failed, failures, wall_s, ...). Any number of workers may run at once,
    in threads or processes or on other machines; a worker started again after dying finishes
    its blocks. Claims of a worker that stopped expire after `lease` seconds."""
    return json.loads(_vb._work(os.fspath(jobdir), int(worker), int(of), int(threads or 0),
                                float(lease), bool(quiet)))


def cleanup(jobdir):
    """Call once every worker of the job has exited (never while one may still run): removes
    the claims and the half-written chunk temporaries of workers that were killed, as
    `volbatch run` does after its workers. The output is unaffected either way."""
    _vb._cleanup(os.fspath(jobdir))


def status(jobdir):
    """What the job directory's ledgers say (`volbatch status --json`): blocks_total,
    blocks_done, blocks_failed, blocks_remaining, failed_blocks, in_flight, last_run, ..."""
    return json.loads(_vb._status(os.fspath(jobdir)))


def blocks(jobdir, done=False):
    """The blocks not done yet (with done=True: every block), in order, each a dict
    {"block": index, "begin": [...], "end": [...], "done": bool, "failed": bool} whose region
    is in output space (spatial axes; a channel axis is whole in every block)."""
    return json.loads(_vb._blocks(os.fspath(jobdir), bool(done)))
