"""examples/domain_translation.py: SEM-like -> TEM-like translation trained from paired
WindowDataset windows and run with `volbatch run`.

The --quick run (fixed seed) must beat histogram matching on every metric it writes to
metrics.json, with the model, its rdf.yaml and the volbatch output where they belong. Bad
models end in one line naming the field: a 2-channel model (which volbatch itself accepts,
preparing a [2, z, y, x] output) is refused by the example; a model whose output shape does
not fit the window is refused by volbatch, whose line the example passes on.
"""
import json

import pytest

import example_util
from example_util import stderr_line

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

def run_example(pytestconfig, *args):
    return example_util.run_example(pytestconfig, "domain_translation.py", *args, timeout=600)


def test_quick_run_beats_histogram_matching(tmp_path, pytestconfig):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    psnr = example_util.metrics_beating_baseline(tmp_path, ["psnr", "ssim"])["psnr"]
    assert 15 < psnr["baseline"] < psnr["model"] < 31, psnr  # below the noise ceiling (~30 dB)
    times = json.loads((tmp_path / "timings.json").read_text())
    assert times["steps"] == 80 and times["train_s"] > 0 and times["inference_s"] > 0
    assert (tmp_path / "translate.pt").exists()
    rdf = (tmp_path / "rdf.yaml").read_text()
    assert "halo: [0, 0, 4, 4, 4]" in rdf and "source: translate.pt" in rdf
    out = zarr.open_array(str(tmp_path / "out.zarr" / "translated"), mode="r")
    held = zarr.open_array(str(tmp_path / "heldout.zarr" / "tem"), mode="r")
    assert out.shape == held.shape == (32, 96, 96) and out.dtype == "uint8"
    assert (tmp_path / "out.zarr" / "translated.volbatch" / "job.json").exists()


def test_two_channel_model_is_refused(tmp_path, pytestconfig):
    pt = tmp_path / "two.pt"
    torch.jit.script(torch.nn.Conv3d(1, 2, 1)).save(str(pt))
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("[operator] model: ") and "2 output channels" in line, line
    assert "channels = [k]" in line, line
    # What volbatch did: its dry pass accepted the model and prepared a 2-channel output;
    # no block ran, and no metrics were written.
    out = zarr.open_array(str(tmp_path / "w" / "out.zarr" / "translated"), mode="r")
    assert out.shape == (2, 32, 96, 96)
    assert out.nchunks_initialized == 0
    assert not (tmp_path / "w" / "metrics.json").exists()


def test_model_of_the_wrong_shape_is_refused_by_volbatch(tmp_path, pytestconfig):
    pt = tmp_path / "valid.pt"
    torch.jit.script(torch.nn.Conv3d(1, 1, 3)).save(str(pt))  # "valid": [30, 62, 62] out
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("volbatch: ") and "[operator] model: " in line, line
    assert "returned [4,1,30,62,62]" in line and "output_window = [30, 62, 62]" in line, line


@pytest.mark.parametrize("args, field", [
    (["--steps", "0"], "--steps: "),
    (["--model", "/nonexistent/model.pt"], "--model: "),
])
def test_bad_arguments_name_the_field(tmp_path, pytestconfig, args, field):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path, *args)
    assert r.returncode == 1
    assert stderr_line(r).startswith(field)
