"""Workflows: [[step]] tables run in order, a step's input naming an earlier step's output. The
result equals running the steps one by one; a workflow killed in step 2 resumes without redoing
step 1 (its chunks are not rewritten); `volbatch status WORKFLOW` shows every step; a step that
names no earlier step fails in one line naming it."""

import numpy as np

import engine_util as eu

GAUSS = {"type": "gaussian", "sigma": [1.0, 1.5, 1.5]}
THRESH = {"type": "threshold", "value": 100.0}


def workflow_text(raw, d, run=None, second=THRESH, second_dtype="uint8"):
    return (("[run]\n" + "".join(f"{k} = {eu._toml_value(v)}\n" for k, v in run.items()) + "\n"
             if run else "") +
            f'[[step]]\nname = "smooth"\ninput = {{ path = "{raw}" }}\n'
            f'output = {{ path = "{d}/w.zarr/smooth", dtype = "float32", chunks = [32, 32, 32], '
            f'format = "zarr2", codec = "zstd:1" }}\noperator = {eu._toml_value(GAUSS)}\n'
            f'tiling = {{ block = [32, 32, 32] }}\n\n'
            f'[[step]]\nname = "mask"\ninput = {{ step = "smooth" }}\n'
            f'output = {{ path = "{d}/w.zarr/mask", dtype = "{second_dtype}", chunks = [32, 32, 32], '
            f'format = "zarr2", codec = "zstd:1" }}\noperator = {eu._toml_value(second)}\n'
            f'tiling = {{ block = [32, 32, 32] }}\n')


def test_two_steps_equal_the_steps_one_by_one(volbatch, tmp_path):
    raw = eu.write_zarr2(eu.em_volume((64, 96, 96), seed=3), tmp_path / "in.zarr/raw")
    wf = tmp_path / "wf.toml"
    wf.write_text(workflow_text(raw, tmp_path))
    p = volbatch("run", wf, "--threads", 2)
    assert "step 1/2 smooth" in p.stdout and "step 2/2 mask" in p.stdout, p.stdout

    j1 = eu.write_job(tmp_path / "a.toml", raw, tmp_path / "s.zarr/smooth", GAUSS, "float32",
                      tiling={"block": [32, 32, 32]}, format="zarr2")
    volbatch("run", j1, "--threads", 2, "--quiet")
    j2 = eu.write_job(tmp_path / "b.toml", tmp_path / "s.zarr/smooth", tmp_path / "s.zarr/mask",
                      THRESH, "uint8", tiling={"block": [32, 32, 32]}, format="zarr2")
    volbatch("run", j2, "--threads", 2, "--quiet")
    for name in ["smooth", "mask"]:
        eu.assert_same_files(eu.dataset_files(tmp_path / "w.zarr" / name),
                            eu.dataset_files(tmp_path / "s.zarr" / name), name)
    mask = eu.read_zarr2(tmp_path / "w.zarr/mask")
    assert 0 < mask.mean() < 1  # the threshold cut somewhere

    s = volbatch("status", wf).stdout
    assert "step 1/2 smooth" in s and "step 2/2 mask" in s, s
    st = eu.json.loads(volbatch("status", wf, "--json").stdout)
    assert [x["name"] for x in st["steps"]] == ["smooth", "mask"]


def test_killed_in_step_two_resumes_without_redoing_step_one(volbatch, tmp_path):
    raw = eu.write_zarr2(eu.em_volume((96, 160, 160), seed=4), tmp_path / "in.zarr/raw")
    wf = tmp_path / "wf.toml"
    # Step 2 smooths again (slower than a threshold), so that it can be caught mid-way.
    second = {"type": "gaussian", "sigma": 3.0}
    wf.write_text(workflow_text(raw, tmp_path, run={"threads": 1}, second=second,
                                second_dtype="float32"))
    mask_jobdir = eu.jobdir_of(tmp_path / "w.zarr/mask")
    proc = volbatch.popen("run", wf, "--threads", 1, "--quiet")
    killed = eu.kill_when_blocks_done(proc, mask_jobdir, 3, timeout_s=120)
    assert killed, "step 2 finished before it could be killed; make it bigger"
    step1 = eu.file_stats(tmp_path / "w.zarr/smooth")
    st = eu.json.loads(volbatch("status", wf, "--json").stdout)
    s1, s2 = st["steps"][0]["status"], st["steps"][1]["status"]
    assert s1["blocks_done"] == s1["blocks_total"], s1
    assert 0 < s2["blocks_done"] < s2["blocks_total"], s2

    p = volbatch("run", wf, "--threads", 2)
    assert eu.file_stats(tmp_path / "w.zarr/smooth") == step1  # not one chunk of step 1 rewritten
    # The reference: the same workflow, uninterrupted.
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "wf.toml").write_text(workflow_text(raw, ref, second=second, second_dtype="float32"))
    volbatch("run", ref / "wf.toml", "--threads", 2, "--quiet")
    for name in ["smooth", "mask"]:
        eu.assert_same_files(eu.dataset_files(tmp_path / "w.zarr" / name),
                            eu.dataset_files(ref / "w.zarr" / name), name)
    assert "step 2/2 mask" in p.stdout


def test_a_step_naming_no_earlier_step_fails_in_one_line(volbatch, tmp_path):
    raw = eu.write_zarr2(np.zeros((8, 8, 8), np.uint8), tmp_path / "in.zarr/raw")
    wf = tmp_path / "wf.toml"
    wf.write_text(workflow_text(raw, tmp_path).replace('step = "smooth"', 'step = "smoth"'))
    eu.one_line_error(volbatch("run", wf, check=False), "[[step]] 2 (mask)", '"smoth"',
                      "earlier: smooth")
    wf.write_text(workflow_text(raw, tmp_path) + '\n[extra]\nx = 1\n')
    eu.one_line_error(volbatch("run", wf, check=False), "[extra]", "unknown table")
    wf.write_text(workflow_text(raw, tmp_path).replace('type = "threshold"', 'type = "nope"'))
    eu.one_line_error(volbatch("run", wf, check=False), "[[step]] 2 (mask)", "nope")


def test_prepare_refuses_a_workflow_in_one_line(volbatch, tmp_path):
    raw = eu.write_zarr2(eu.em_volume((32, 32, 32), seed=5), tmp_path / "in.zarr/raw")
    wf = tmp_path / "wf.toml"
    wf.write_text(workflow_text(raw, tmp_path))
    eu.one_line_error(volbatch("run", wf, "--prepare", check=False), "--prepare",
                      "is a workflow")
    assert not (tmp_path / "w.zarr").exists()
