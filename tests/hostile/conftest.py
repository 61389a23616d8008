"""The hostile-input corpus (scripts/hostile_corpus.py), generated once per session, and every
(case, command) run once, two at a time, under a 1 GiB address-space cap and a timeout."""
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

CAP = 1 << 30          # prlimit --as
TIMEOUT = 20           # seconds per command
JOBS = 2               # commands run concurrently (2 cores)
TIME = "/usr/bin/time"  # GNU time, for the peak RSS; getrusage deltas without it

_state = {}


def pytest_addoption(parser):
    parser.addoption("--volbatch", default=os.environ.get("VOLBATCH", "build/volbatch"))
    parser.addoption("--corpus", default=None,
                     help="use (and keep) this corpus directory instead of a temporary one")


def _snapshot(exe):
    """Copies the binary and the build tree's shared libraries beside it into a temporary
    directory (under the build directory's own lock, BUILD/.build.lock, which whoever relinks
    that tree holds: `flock build/.build.lock ninja -C build`; a machine-wide lock made this
    wait for every other tree's build), so no half-linked library is copied, and runs that copy
    through LD_LIBRARY_PATH (volbatch has a RUNPATH, which it overrides): other engineers
    relinking build/*.so during the ~2 minutes of the suite must not fail cases with exit 127."""
    import fcntl
    import glob
    snap = tempfile.mkdtemp(prefix="vb-hostile-bin-")
    _state["snap"] = snap
    src = os.path.dirname(exe)
    with open(os.path.join(src, ".build.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for lib in glob.glob(os.path.join(src, "lib*.so*")):
                shutil.copy2(lib, snap)
            shutil.copy2(exe, snap)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    os.environ["LD_LIBRARY_PATH"] = snap + (":" + os.environ["LD_LIBRARY_PATH"]
                                             if os.environ.get("LD_LIBRARY_PATH") else "")
    return os.path.join(snap, os.path.basename(exe))


def _corpus(config):
    if "cases" not in _state:
        import hostile_corpus
        exe = _snapshot(os.path.abspath(config.getoption("--volbatch")))
        out = config.getoption("--corpus")
        if out is None:
            _state["tmp"] = tempfile.TemporaryDirectory(prefix="vb-hostile-")
            out = os.path.join(_state["tmp"].name, "corpus")
        t = time.time()
        cases = hostile_corpus.Corpus(out, exe).write()
        _state.update(cases=cases, dir=os.path.abspath(out), exe=exe,
                      work=tempfile.mkdtemp(prefix="vb-hostile-out-"),
                      generate_seconds=time.time() - t)
    return _state


def pytest_generate_tests(metafunc):
    if "case_command" in metafunc.fixturenames:
        st = _corpus(metafunc.config)
        params = [pytest.param((c, cmd), id=f"{c['id']}:{cmd}",
                               marks=[pytest.mark.xfail(reason=c["xfail"], strict=True)]
                               if c.get("xfail") else [])
                  for c in st["cases"] for cmd in c["commands"]]
        metafunc.parametrize("case_command", params)


def _toml_str(s):
    return json.dumps(s)  # JSON string escapes are TOML basic-string escapes (\uXXXX included)


def _command(st, case, cmd, out_dir):
    exe = st["exe"]
    path = os.path.join(st["dir"], case["path"])
    if cmd == "info":
        return [exe, "info", path], None
    if cmd == "export":
        dst = os.path.join(out_dir, "out.npy")
        return [exe, "export", path, dst], dst
    job_input = case.get("job_input", "{path}").replace("{path}", path)
    out = os.path.join(out_dir, "out.zarr", "o")
    job = os.path.join(out_dir, "job.toml")
    with open(job, "w") as f:
        f.write(f"[input]\npath = {_toml_str(job_input)}\n\n[output]\npath = {_toml_str(out)}\n"
                f"chunks = [8, 8, 8]\ncodec = \"raw\"\n\n[operator]\ntype = \"identity\"\n")
    return [exe, "run", job, "--threads", "2"], out


def _run_one(st, case, cmd):
    out_dir = os.path.join(st["work"], f"{case['id']}-{cmd}")
    os.makedirs(out_dir)
    argv, dst = _command(st, case, cmd, out_dir)
    rss_file = os.path.join(out_dir, ".rss")
    wrapped = ["prlimit", f"--as={CAP}", "--", *argv]
    if os.path.exists(TIME):
        wrapped = [TIME, "-o", rss_file, "-f", "%M", *wrapped]
    t = time.time()
    p = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    hung = False
    try:
        _, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
    rc = p.returncode
    signalled = None
    rss_kib = None
    if os.path.exists(rss_file):
        text = open(rss_file).read()
        if "terminated by signal" in text:
            signalled = int(text.split("signal")[1].split()[0])
        lines = [l for l in text.splitlines() if l.strip().isdigit()]
        rss_kib = int(lines[-1]) if lines else None
    elif rc < 0:
        signalled = -rc
    leftovers = []
    for d, _, files in os.walk(out_dir):
        for f in files:
            full = os.path.join(d, f)
            if f == ".rss" or f == "job.toml":
                continue
            if ".tmp" in f:
                leftovers.append(os.path.relpath(full, out_dir))
    dst_exists = dst is not None and cmd == "export" and os.path.exists(dst)
    return {"rc": rc, "stderr": err.decode("utf-8", "replace"), "hung": hung,
            "signal": signalled, "rss_kib": rss_kib, "seconds": time.time() - t,
            "leftovers": leftovers, "dst_exists": dst_exists, "argv": argv}


@pytest.fixture(scope="session")
def results(request):
    st = _corpus(request.config)
    todo = [(c, cmd) for c in st["cases"] for cmd in c["commands"]]
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        futs = {(c["id"], cmd): pool.submit(_run_one, st, c, cmd) for c, cmd in todo}
        res = {k: f.result() for k, f in futs.items()}
    wall = time.time() - t
    rss = [(r["rss_kib"] or 0, k) for k, r in res.items()]
    peak = max(rss) if rss else (0, None)
    summary = {"cases": len(st["cases"]), "commands": len(todo),
               "generate_seconds": round(st["generate_seconds"], 1),
               "run_seconds": round(wall, 1), "peak_rss_kib": peak[0],
               "peak_rss_case": ":".join(peak[1]) if peak[1] else None,
               "slowest": sorted(((round(r["seconds"], 2), ":".join(k)) for k, r in res.items()),
                                 reverse=True)[:5]}
    report = os.environ.get("VOLBATCH_HOSTILE_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({"summary": summary, "results": {":".join(k): r for k, r in res.items()}},
                      f, indent=1)
    sys.stderr.write(f"\nhostile corpus: {json.dumps(summary)}\n")
    yield res
    shutil.rmtree(st["work"], ignore_errors=True)
    if "tmp" in _state:
        _state.pop("tmp").cleanup()
    shutil.rmtree(_state.get("snap", ""), ignore_errors=True) if _state.get("snap") else None
