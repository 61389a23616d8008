"""`pip install .` for real, the way the README says on Debian: a venv with the system's site
packages, `pip install --no-build-isolation --no-index SOURCE`, then, from a directory outside
the source tree: import, a dataset, an identity job, a torch-operator job (the plugin found
beside the installed libraries, not beside python3), the processes executor with the shipped
volbatch program, and the `volbatch` command pip puts on the venv's PATH.

OPT-IN (VOLBATCH_TEST_PIP=1): the first install compiles the whole library into build-pip/
(about 12 minutes on 2 cores); later ones rebuild what changed (about 40 s when nothing did).
"""
import os
import subprocess
import sys

import pytest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

pytestmark = pytest.mark.skipif(not os.environ.get("VOLBATCH_TEST_PIP"),
                                reason="opt-in: VOLBATCH_TEST_PIP=1 (builds the package)")

SCRIPT = r"""
import os, subprocess, sys
import numpy as np
import torch
import volbatch

here = os.path.dirname(os.path.abspath(volbatch.__file__))
assert here.startswith(sys.prefix), (here, sys.prefix)
a = (np.arange(32 * 64 * 64) % 251).astype(np.uint8).reshape(32, 64, 64)
ds = volbatch.create("in.zarr/raw", data=a, chunks=(16, 32, 32))
assert np.array_equal(volbatch.open("in.zarr/raw")[5:, ::2, -3], a[5:, ::2, -3])


class Affine(torch.nn.Module):
    def forward(self, x):
        return 2 * x + 1


torch.jit.trace(Affine(), torch.zeros(1, 1, 4, 4, 4)).save("affine.pt")


def job(name, op, dtype):
    return {"input": {"path": "in.zarr/raw"},
            "output": {"path": name + ".zarr/o", "dtype": dtype, "chunks": [16, 32, 32]},
            "operator": op}


r = volbatch.run(job("id", {"type": "identity"}, "uint8"))
assert r["complete"] and np.array_equal(volbatch.open("id.zarr/o")[...], a)
r = volbatch.run(job("t", {"type": "torch", "model": "affine.pt", "window": [16, 32, 32]},
                     "float32"))
assert r["complete"]
np.testing.assert_allclose(volbatch.open("t.zarr/o")[...], 2 * a.astype(np.float32) + 1,
                           rtol=1e-6)
assert volbatch.executable() == os.path.join(here, "bin", "volbatch")
r = volbatch.run(job("p", {"type": "identity"}, "uint8"), executor="processes", workers=2)
assert r["complete"] and r["ledgers"] == 2
assert np.array_equal(volbatch.open("p.zarr/o")[...], a)
out = subprocess.run([os.path.join(sys.prefix, "bin", "volbatch"), "info", "t.zarr/o"],
                     capture_output=True, text=True, check=True).stdout
assert "float32" in out, out
print("ok")
"""


def test_pip_install_into_a_venv_and_use_it_outside_the_source_tree(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation",
                          "--no-index", SOURCE], capture_output=True, text=True, timeout=3600,
                         cwd=tmp_path)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VOLBATCH_PLUGIN_PATH", "VOLBATCH_EXECUTABLE")}
    p = subprocess.run([str(venv / "bin" / "python"), "-c", SCRIPT], capture_output=True,
                       text=True, cwd=work, env=env, timeout=600)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stdout + p.stderr
    assert sys.prefix != str(venv)
