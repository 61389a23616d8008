"""examples/super_resolution.py: z x4 EM super-resolution (a small GAN) trained from
WindowDataset windows at two scales and run with `volbatch run` (torch operator, scale
[4, 1, 1]).

The --quick run (fixed seed) must beat volbatch's linear upsampling on every metric it writes
to metrics.json, with the model, its rdf.yaml and both volbatch outputs (HR-shaped: the LR
volume with z x 4) where they belong. Bad models end in one line naming the field: a
2-channel model (which volbatch itself accepts, preparing a [2, z, y, x] output) is refused
by the example; a model that does not upscale z by 4 is refused by volbatch, whose line the
example passes on.
"""
import json

import pytest

import example_util
from example_util import stderr_line

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

LR_SHAPE, HR_SHAPE = (16, 96, 96), (64, 96, 96)  # --quick's held-out volume


def run_example(pytestconfig, *args):
    return example_util.run_example(pytestconfig, "super_resolution.py", *args, timeout=600)


def test_quick_run_beats_linear_upsampling(tmp_path, pytestconfig):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "alignment: " in r.stdout and "D: " in r.stdout, r.stdout  # both losses reported
    m = example_util.metrics_beating_baseline(tmp_path, ["psnr", "ssim"])
    psnr, ssim = m["psnr"], m["ssim"]
    assert 20 < psnr["baseline"] < psnr["model"] < 40, psnr  # measured: 25.0 -> 28.8 dB
    assert 0.7 < ssim["baseline"] < ssim["model"] < 1, ssim  # measured: 0.867 -> 0.933
    times = json.loads((tmp_path / "timings.json").read_text())
    assert times["steps"] == 60 and times["train_s"] > 0 and times["inference_s"] > 0
    assert {"data_s", "baseline_s", "total_s"} <= set(times)
    assert (tmp_path / "upscale.pt").exists()
    rdf = (tmp_path / "rdf.yaml").read_text()
    assert "halo: [0, 0, 16, 4, 4]" in rdf and "source: upscale.pt" in rdf
    assert "scale: [1, 1, 4, 1, 1]" in rdf and "shape: [1, 1, 16, 64, 64]" in rdf
    lr = zarr.open(zarr.N5Store(str(tmp_path / "heldout.n5")), mode="r")["lr"]
    hr = zarr.open_array(str(tmp_path / "heldout.zarr" / "hr"), mode="r")
    assert lr.shape == LR_SHAPE and hr.shape == HR_SHAPE
    for name in ("upscaled", "linear"):
        out = zarr.open_array(str(tmp_path / "out.zarr" / name), mode="r")
        assert out.shape == HR_SHAPE and out.dtype == "uint8", name
        assert (tmp_path / "out.zarr" / f"{name}.volbatch" / "job.json").exists()


def test_two_channel_model_is_refused(tmp_path, pytestconfig):
    pt = tmp_path / "two.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Upsample(scale_factor=(4.0, 1.0, 1.0)),
                                         torch.nn.Conv3d(1, 2, 1))).save(str(pt))
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("[operator] model: ") and "2 output channels" in line, line
    assert "channels = [k]" in line, line
    # What volbatch did: its dry pass accepted the model and prepared a 2-channel HR output;
    # no block ran, and no metrics were written.
    out = zarr.open_array(str(tmp_path / "w" / "out.zarr" / "upscaled"), mode="r")
    assert out.shape == (2,) + HR_SHAPE
    assert out.nchunks_initialized == 0
    assert not (tmp_path / "w" / "metrics.json").exists()


def test_model_that_does_not_upscale_z_is_refused_by_volbatch(tmp_path, pytestconfig):
    pt = tmp_path / "same.pt"
    torch.jit.script(torch.nn.Conv3d(1, 1, 3, padding=1)).save(str(pt))  # output = input
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("volbatch: ") and "[operator] model: " in line, line
    assert "returned [4,1,16,64,64]" in line and "expects [4,1,64,64,64]" in line, line
    assert "it does not rescale by [4, 1, 1]" in line, line
    assert not (tmp_path / "w" / "metrics.json").exists()


@pytest.mark.parametrize("args, field", [
    (["--steps", "0"], "--steps: "),
    (["--channels", "7"], "--channels: "),
    (["--lr", "0"], "--lr: "),
    (["--model", "/nonexistent/model.pt"], "--model: "),
])
def test_bad_arguments_name_the_field(tmp_path, pytestconfig, args, field):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path, *args)
    assert r.returncode == 1
    assert stderr_line(r).startswith(field)
