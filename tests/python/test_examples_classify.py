"""examples/classify.py: 3-class voxel classification behind the demo's denoiser, as one
volbatch workflow (restore -> classify with tta and a label pyramid -> probabilities).

The --quick run (fixed seeds, run once for the module) must beat the tuned threshold baseline
on every metric in metrics.json and leave its model, rdf.yaml, uint8 labels in {0, 1, 2}, the
mode pyramid's levels, probabilities summing to 1 and tta.json. Its workflow, copied elsewhere
and killed (SIGKILL) in its second step, resumes without rewriting one chunk of the first and
ends byte-identical to the quick run's outputs. Bad inputs end in one line naming the field.
"""
import json
import math
import shutil

import numpy as np
import pytest

import example_util
from example_util import stderr_line

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
pytest.importorskip("scipy")

import engine_util as eu  # noqa: E402 -- on sys.path by conftest.py

METRICS = [f"{m}_{c}" for c in ("background", "membrane", "organelle") for m in ("dice", "iou")]
OUTPUTS = ["restored", "labels", "labels_s1", "labels_s2", "probabilities"]


def run_example(pytestconfig, *args):
    return example_util.run_example(pytestconfig, "classify.py", *args)


@pytest.fixture(scope="module")
def quick(tmp_path_factory, pytestconfig):
    d = tmp_path_factory.mktemp("classify")
    r = run_example(pytestconfig, "--quick", "--out", d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_quick_run_beats_the_thresholds(quick):
    metrics = example_util.metrics_beating_baseline(quick, METRICS).values()
    for m in metrics:
        assert 0 <= m["baseline"] <= 1 and 0 <= m["model"] <= 1, m
    times = json.loads((quick / "timings.json").read_text())
    assert times["steps"] == 200 and times["train_s"] > 0 and times["workflow_s"] > 0
    tta = json.loads((quick / "tta.json").read_text())
    assert sorted(tta["with_tta"]) == sorted(tta["without_tta"]) == sorted(METRICS)
    assert all(math.isfinite(v) for v in tta["without_tta"].values())
    assert tta["with_tta"] == {m["metric"]: m["model"] for m in metrics}


def test_quick_run_writes_model_labels_pyramid_and_probabilities(quick):
    assert (quick / "classify.pt").exists()
    rdf = (quick / "rdf.yaml").read_text()
    assert "halo: [0, 0, 5, 5, 5]" in rdf and "source: classify.pt" in rdf
    assert "shape: [1, 3, " in rdf  # 3 output channels
    wf = (quick / "workflow.toml").read_text()
    assert 'tta = "flips"' in wf and 'pyramid_method = "mode"' in wf
    out = quick / "workflow.zarr"
    labels = zarr.open_array(str(out / "labels"), mode="r")
    assert labels.shape == (32, 128, 128) and labels.dtype == np.uint8
    values = set(np.unique(labels[...]).tolist())
    assert values == {0, 1, 2}, values
    for lv, shape in ((1, (16, 64, 64)), (2, (8, 32, 32))):
        level = zarr.open_array(str(out / f"labels_s{lv}"), mode="r")
        assert level.shape == shape and level.dtype == np.uint8
        assert set(np.unique(level[...]).tolist()) <= {0, 1, 2}
    attrs = json.loads((out / ".zattrs").read_text())
    paths = [d["path"] for d in attrs["multiscales"][0]["datasets"]]
    assert paths == ["labels", "labels_s1", "labels_s2"], attrs
    # Level 1 is the mode of 2x2x2 groups: where a group is unanimous, it is that label.
    lab = labels[...].reshape(16, 2, 64, 2, 64, 2).transpose(0, 2, 4, 1, 3, 5).reshape(
        16, 64, 64, 8)
    same = (lab == lab[..., :1]).all(-1)
    s1 = zarr.open_array(str(out / "labels_s1"), mode="r")[...]
    assert same.mean() > 0.5 and np.array_equal(s1[same], lab[..., 0][same])
    probs = zarr.open_array(str(out / "probabilities"), mode="r")
    assert probs.shape == (3, 32, 128, 128) and probs.dtype == np.float32
    p = probs[...].astype(np.float64)
    assert np.abs(p.sum(0) - 1).max() < 1e-3
    assert (np.argmax(p, 0) == labels[...]).mean() > 0.999  # the same model, the same flips


def test_workflow_killed_in_classify_resumes_without_redoing_restore(quick, tmp_path, cli):
    # The workflow's output paths are relative to its file: a copy runs into tmp_path.
    wf = tmp_path / "workflow.toml"
    shutil.copy(quick / "workflow.toml", wf)
    labels_jobdir = eu.jobdir_of(tmp_path / "workflow.zarr" / "labels")
    proc = cli.popen("run", wf, "--threads", 1, "--quiet")
    killed = eu.kill_when_blocks_done(proc, labels_jobdir, 1, timeout_s=240)
    assert killed, "the classify step finished before it could be killed (or 240 s passed)"
    st = json.loads(cli("status", wf, "--json").stdout)
    assert [s["name"] for s in st["steps"]] == ["restore", "classify", "probabilities"]
    s1, s2 = st["steps"][0]["status"], st["steps"][1]["status"]
    assert s1["blocks_done"] == s1["blocks_total"], s1
    assert 0 < s2["blocks_done"] < s2["blocks_total"], s2
    restored = eu.file_stats(tmp_path / "workflow.zarr" / "restored")

    p = cli("run", wf, "--threads", 2)
    assert "step 3/3 probabilities" in p.stdout, p.stdout
    assert eu.file_stats(tmp_path / "workflow.zarr" / "restored") == restored
    for name in OUTPUTS:
        eu.assert_same_files(eu.dataset_files(tmp_path / "workflow.zarr" / name),
                             eu.dataset_files(quick / "workflow.zarr" / name), name)
    st = json.loads(cli("status", wf, "--json").stdout)
    assert all(s["status"]["blocks_done"] == s["status"]["blocks_total"] for s in st["steps"])


def test_model_with_other_than_three_channels_is_refused(tmp_path, pytestconfig):
    pt = tmp_path / "two.pt"
    torch.jit.script(torch.nn.Conv3d(1, 2, 1)).save(str(pt))
    r = run_example(pytestconfig, "--quick", "--out", tmp_path / "w", "--model", pt)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith("[operator] model: ") and "returns 2 output channels" in line, line
    assert "3 classes" in line, line
    assert not (tmp_path / "w" / "metrics.json").exists()
    assert not (tmp_path / "w" / "workflow.zarr").exists()  # refused before the workflow


@pytest.mark.parametrize("args, start, needle", [
    (["--labels", "/nonexistent/labels.zarr/labels"], "--labels: ", "no such dataset"),
    (["--classes", "background,membrane"], "--classes: ", "2 names"),
    (["--steps", "0"], "--steps: ", ">= 1"),
    (["--model", "/nonexistent/model.pt"], "--model: ", "no such file"),
])
def test_bad_arguments_name_the_field(tmp_path, pytestconfig, args, start, needle):
    r = run_example(pytestconfig, "--quick", "--out", tmp_path, *args)
    assert r.returncode == 1, r.stdout + r.stderr
    line = stderr_line(r)
    assert line.startswith(start) and needle in line, line
