"""Jobs from Python: volbatch.run (a job file, TOML text or a dict; executors local and
processes), prepare + work in Python threads, status and blocks, and the torch operator plugin
found from a Python process. Every output is compared byte for byte with `volbatch run`'s."""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import engine_util as eu
import volbatch

SHAPE = (48, 96, 96)  # 3 x 3 x 3 = 27 blocks of 16 x 32 x 32
CHUNKS = (16, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [1.5, 2.0, 2.0]}


@pytest.fixture(scope="module")
def reference(cli, tmp_path_factory):
    """The input, and the files `volbatch run` writes for the gaussian job."""
    d = tmp_path_factory.mktemp("jobs")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=21), d / "in.zarr/raw", CHUNKS)
    out = d / "ref.zarr/o"
    job = eu.write_job(d / "ref.toml", raw, out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    cli("run", job, "--threads", 2, "--quiet")
    return {"raw": raw, "files": eu.dataset_files(out)}


def tables(reference, out):
    return {"input": {"path": reference["raw"]},
            "output": {"path": str(out), "dtype": "float32", "chunks": list(CHUNKS),
                       "codec": "zstd:1"},
            "operator": GAUSS, "tiling": {"block": list(CHUNKS)}}


def test_run_a_job_file_is_bit_identical_to_the_cli(reference, tmp_path):
    out = tmp_path / "f.zarr/o"
    job = eu.write_job(tmp_path / "f.toml", reference["raw"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    r = volbatch.run(job, threads=2)
    assert r["complete"] and r["blocks_done"] == 27 and r["blocks_remaining"] == 0, r
    assert r["jobdir"] == eu.jobdir_of(out)
    assert r["last_run"]["blocks_done"] == 27
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "volbatch.run(file)")
    # Run again: everything is done, nothing is recomputed.
    again = volbatch.run(job)
    assert again["last_run"]["blocks_skipped"] == 27 and again["last_run"]["blocks_done"] == 0
    assert volbatch.blocks(r["jobdir"]) == []
    assert volbatch.status(r["jobdir"])["blocks_done"] == 27


def test_run_a_dict_and_toml_text(reference, tmp_path, monkeypatch):
    out = tmp_path / "d.zarr/o"
    job = tables(reference, out)
    job["output"]["chunks"] = np.array(CHUNKS)  # numpy values are JSON too
    r = volbatch.run(job, threads=1)
    assert r["complete"]
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "volbatch.run(dict)")
    # TOML text, with paths relative to the current directory.
    monkeypatch.chdir(tmp_path)
    text = eu.toml_text({**tables(reference, "t.zarr/o"), "run": {"threads": 2}})
    r = volbatch.run(text)
    assert r["complete"] and r["jobdir"] == str(tmp_path / "t.zarr/o.volbatch")
    eu.assert_same_files(eu.dataset_files(tmp_path / "t.zarr/o"), reference["files"], "toml")


def test_run_writes_the_pyramid_like_the_cli(reference, cli, tmp_path):
    """Level 1 of a 16x32x32 block over 8x16x16 chunks is written by the blocks, levels 2 and
    3 by passes; every level's files equal those `volbatch run` writes for the same job."""
    def job(out):
        t = tables(reference, out)
        t["output"].update({"chunks": [8, 16, 16], "dtype": "uint8", "pyramid": 3})
        t["operator"] = {"type": "identity"}
        return t
    r = volbatch.run(job(tmp_path / "p.zarr/o"), threads=2)
    assert r["pyramid"]["written_by_blocks"] == 1, r
    assert [os.path.basename(p) for p in r["pyramid"]["levels"]] == ["o_s1", "o_s2", "o_s3"]
    assert r["pyramid"]["metadata"] == str(tmp_path / "p.zarr/zarr.json")
    ref = tmp_path / "ref.toml"
    ref.write_text(eu.toml_text(job(tmp_path / "c.zarr/o")))
    assert "(1 written as blocks finished)" in cli("run", ref, "--quiet").stdout
    for level in ["o", "o_s1", "o_s2", "o_s3"]:
        eu.assert_same_files(eu.dataset_files(tmp_path / "p.zarr" / level),
                             eu.dataset_files(tmp_path / "c.zarr" / level), level)


def test_prepare_blocks_and_two_workers_in_python_threads(reference, tmp_path):
    out = tmp_path / "w.zarr/o"
    jobdir = volbatch.prepare(tables(reference, out))
    todo = volbatch.blocks(jobdir)
    assert [b["block"] for b in todo] == list(range(27))
    assert todo[0] == {"block": 0, "begin": [0, 0, 0], "end": [16, 32, 32], "done": False,
                       "failed": False}
    assert todo[26]["begin"] == [32, 64, 64] and todo[26]["end"] == [48, 96, 96]
    summaries = [None, None]

    def work(i):
        summaries[i] = volbatch.work(jobdir, i, 2, threads=1, lease=30)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s["blocks_done"] for s in summaries) == 27, summaries
    assert all(s["blocks_failed"] == 0 for s in summaries)
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == 27 and st["ledgers"] == 2 and not st["in_flight"]
    assert volbatch.blocks(jobdir) == [] and len(volbatch.blocks(jobdir, done=True)) == 27
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "2 workers in threads")


def test_processes_executor_from_python(reference, tmp_path):
    out = tmp_path / "p.zarr/o"
    r = volbatch.run(tables(reference, out), executor="processes", workers=2, threads=1)
    assert r["complete"] and r["ledgers"] == 2, r
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "processes executor")
    assert os.access(volbatch.executable(), os.X_OK)


def test_bad_jobs_raise_with_the_library_message(reference, tmp_path):
    job = tables(reference, tmp_path / "b.zarr/o")
    job["operator"] = {"type": "gausian"}
    with pytest.raises(volbatch.InvalidArgument, match="gausian") as e:
        volbatch.run(job)
    assert isinstance(e.value, ValueError)
    job = tables(reference, tmp_path / "b.zarr/o")
    job["tiling"]["overlapp"] = [1, 1, 1]
    with pytest.raises(volbatch.InvalidArgument, match=r"\[tiling\] overlapp"):
        volbatch.run(job)
    with pytest.raises(volbatch.NotFound, match="nope.toml"):
        volbatch.run(str(tmp_path / "nope.toml"))
    with pytest.raises(volbatch.InvalidArgument, match="TOML"):
        volbatch.run("[input]\npath = ")
    with pytest.raises(volbatch.NotFound, match="not a job directory"):
        volbatch.status(tmp_path)
    with pytest.raises(volbatch.NotFound):
        volbatch.blocks(tmp_path)
    with pytest.raises(volbatch.InvalidArgument, match="worker"):
        volbatch.work(tmp_path, 3, 2)
    with pytest.raises(volbatch.InvalidArgument, match="executor"):
        volbatch.run(tables(reference, tmp_path / "e.zarr/o"), executor="nope")
    with pytest.raises(TypeError):
        volbatch.run(42)


def test_a_failing_block_raises_job_failed_with_the_status(reference, tmp_path):
    """A block that fails (here: the input's chunk corrupted) leaves the job incomplete:
    volbatch.JobFailed carries the status; check=False returns it."""
    raw = tmp_path / "bad.zarr/raw"
    eu.write_zarr2(eu.em_volume(SHAPE, seed=21), raw, CHUNKS)
    with open(raw / "1.1.1", "wb") as f:
        f.write(b"not zstd")
    job = tables(reference, tmp_path / "bad_out.zarr/o")
    job["input"]["path"] = str(raw)
    job["run"] = {"retries": 0}
    with pytest.raises(volbatch.JobFailed) as e:
        volbatch.run(job)
    assert e.value.status["blocks_failed"] >= 1 and not e.value.status["complete"]
    assert "run again" in str(e.value)
    st = volbatch.run(job, check=False)
    assert not st["complete"] and st["failed_blocks"]
    failed = [b for b in volbatch.blocks(st["jobdir"]) if b["failed"]]
    assert failed and all(not b["done"] for b in failed)


# y = 2 x + 1, traced (scripting needs the source in a file).
TORCH_MODEL = """
import sys, torch
class M(torch.nn.Module):
    def forward(self, x):
        return 2 * x + 1
torch.jit.trace(M(), torch.zeros(1, 1, 4, 4, 4)).save(sys.argv[1])
"""


def test_torch_operator_plugin_loads_in_a_python_process(cli, reference, tmp_path):
    """/proc/self/exe is python3 here: the plugin is found beside libvolbatch_ops.so."""
    model = tmp_path / "affine.pt"
    subprocess.run([sys.executable, "-c", TORCH_MODEL, str(model)], check=True)
    job = tables(reference, tmp_path / "t.zarr/o")
    job["operator"] = {"type": "torch", "model": str(model), "window": [16, 32, 32]}
    r = volbatch.run(job, threads=2)
    assert r["complete"], r
    raw = volbatch.open(reference["raw"])[...].astype(np.float32)
    np.testing.assert_allclose(volbatch.open(tmp_path / "t.zarr/o")[...], 2 * raw + 1,
                               rtol=1e-6)
    # The same job through the CLI writes the same bytes.
    job["output"]["path"] = str(tmp_path / "cli.zarr/o")
    path = tmp_path / "cli.toml"
    path.write_text(eu.toml_text(job))
    cli("run", path, "--threads", 2, "--quiet")
    eu.assert_same_files(eu.dataset_files(tmp_path / "cli.zarr/o"),
                         eu.dataset_files(tmp_path / "t.zarr/o"), "torch: python vs cli")


def test_torch_operator_gives_the_callers_thread_its_torch_threads_back(reference, tmp_path):
    """On the CPU the block threads run the forward passes with one intra-op thread each; with
    threads = 1 that is the caller's own thread, whose LibTorch setting (shared with the torch
    module in this process) must come back as it was."""
    import torch
    model = tmp_path / "affine.pt"
    subprocess.run([sys.executable, "-c", TORCH_MODEL, str(model)], check=True)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        for threads in (1, 2):
            job = tables(reference, tmp_path / f"t{threads}.zarr/o")
            job["operator"] = {"type": "torch", "model": str(model), "window": [16, 32, 32]}
            assert volbatch.run(job, threads=threads)["complete"]
            assert torch.get_num_threads() == 3, f"threads = {threads}"
        np.testing.assert_array_equal(volbatch.open(tmp_path / "t1.zarr/o")[...],
                                      volbatch.open(tmp_path / "t2.zarr/o")[...])
    finally:
        torch.set_num_threads(before)


def test_status_matches_the_cli(cli, reference, tmp_path):
    out = tmp_path / "s.zarr/o"
    r = volbatch.run(tables(reference, out))
    got = volbatch.status(r["jobdir"])
    want = json.loads(cli("status", r["jobdir"], "--json").stdout)
    for k in ("blocks_total", "blocks_done", "blocks_failed", "blocks_remaining", "fingerprint"):
        assert got[k] == want[k], k
