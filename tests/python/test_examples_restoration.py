"""examples/restoration.py: the demo's denoiser trained from WindowDataset windows and run with
`volbatch run`, against the best gaussian filter.

The --quick run (fixed seed) must beat the gaussian on every metric it writes to metrics.json,
with the model, its rdf.yaml and the volbatch output where they belong; the demo's shipped
model (--model) must beat it by more. Bad models and arguments end in one line naming the
field.
"""
import json

import pytest

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

import example_util
from example_util import ROOT, stderr_line


def run_example(pytestconfig, *args):
    return example_util.run_example(pytestconfig, "restoration.py", *args, timeout=600)


def check_metrics(out_dir):
    return example_util.metrics_beating_baseline(out_dir, ["psnr", "ssim"])


def test_quick_run_beats_the_best_gaussian(tmp_path, pytestconfig):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = check_metrics(tmp_path)
    assert 28 < m["psnr"]["baseline"] < m["psnr"]["model"] < 40, m  # noisy: 22.1 dB
    times = json.loads((tmp_path / "timings.json").read_text())
    assert times["steps"] == 300 and times["train_s"] > 0 and times["inference_s"] > 0
    assert (tmp_path / "denoise3d.pt").exists()
    rdf = (tmp_path / "rdf.yaml").read_text()
    assert "halo: [0, 0, 4, 4, 4]" in rdf and "source: denoise3d.pt" in rdf
    for name in ["denoised", "gaussian"]:
        out = zarr.open_array(str(tmp_path / "out.zarr" / name), mode="r")
        assert out.shape == (32, 128, 128) and out.dtype == "uint8"


def test_the_demo_model_unchanged(tmp_path, pytestconfig):
    pt = f"{ROOT}/models/denoise3d/denoise3d.pt"
    r = run_example(pytestconfig, "--quick", "--out", tmp_path, "--model", pt)
    assert r.returncode == 0, r.stdout + r.stderr
    m = check_metrics(tmp_path)
    assert m["psnr"]["model"] > m["psnr"]["baseline"] + 3, m
    assert json.loads((tmp_path / "timings.json").read_text())["steps"] == 0


def test_two_channel_model_is_refused(tmp_path, pytestconfig):
    pt = tmp_path / "two.pt"
    torch.jit.script(torch.nn.Conv3d(1, 2, 1)).save(str(pt))
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("[operator] model: ") and "2 output channels" in line, line
    assert not (tmp_path / "w" / "metrics.json").exists()


@pytest.mark.parametrize("args, field", [
    (["--steps", "0"], "--steps: "),
    (["--workers", "-1"], "--workers: "),
    (["--model", "/nonexistent/model.pt"], "--model: "),
])
def test_bad_arguments_name_the_field(tmp_path, pytestconfig, args, field):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path, *args)
    assert r.returncode == 1
    assert stderr_line(r).startswith(field)
