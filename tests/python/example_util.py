"""Helpers of the examples' tests: run an example script with the volbatch under test, and read
the one line an example's error ends in."""
import json
import math
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


def metrics_beating_baseline(out_dir, names):
    """OUT_DIR/metrics.json, checked: exactly the metrics `names` in that order, each entry of
    the documented form, finite, higher is better, and the model above its baseline. Returns
    the entries by metric name."""
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert [m["metric"] for m in metrics] == list(names)
    for m in metrics:
        assert set(m) == {"metric", "model", "baseline", "higher_is_better"}
        assert m["higher_is_better"] is True
        assert math.isfinite(m["model"]) and math.isfinite(m["baseline"])
        assert m["model"] > m["baseline"], m
    return {m["metric"]: m for m in metrics}
