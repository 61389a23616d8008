"""Helpers of the examples' tests: run an example script with the volbatch under test, and read
the one line an example's error ends in."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(pytestconfig, script, *args, timeout=900):
    """examples/SCRIPT --volbatch EXE ARGS..., with the Python package of that build."""
    exe = os.path.abspath(pytestconfig.getoption("--volbatch"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [p for p in sys.path if p.endswith(os.path.join("build", "python"))] +
        [os.path.join(os.path.dirname(exe), "python")]))
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), "--volbatch",
                           exe, *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def stderr_line(r):
    """The only non-empty line of a failed run's stderr."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]
