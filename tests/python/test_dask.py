"""volbatch.dask.run on a real distributed.LocalCluster (2 worker processes on 127.0.0.1): the
job's workers run as Dask tasks and write the bytes `volbatch run` writes, including when the
cluster has fewer worker processes than volbatch workers and when a Dask worker process is
killed in the middle of its task (Dask runs the task again elsewhere; the claims of the dead
worker expire after the lease)."""
import os
import signal
import threading
import time

import pytest

import engine_util as eu
import volbatch

distributed = pytest.importorskip("distributed")
import volbatch.dask  # noqa: E402

SHAPE = (48, 96, 96)  # 27 blocks
CHUNKS = (16, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [1.5, 2.0, 2.0]}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("dask")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=31), d / "in.zarr/raw", CHUNKS)
    out = d / "ref.zarr/o"
    job = eu.write_job(d / "ref.toml", raw, out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    cli("run", job, "--threads", 2, "--quiet")
    return {"raw": raw, "files": eu.dataset_files(out)}


def job_file(reference, tmp_path, name, op=GAUSS):
    out = tmp_path / f"{name}.zarr/o"
    return eu.write_job(tmp_path / f"{name}.toml", reference["raw"], out, op, "float32",
                        CHUNKS, tiling={"block": list(CHUNKS)}), out


def test_dask_run_is_bit_identical_to_volbatch_run(client, reference, tmp_path):
    job, out = job_file(reference, tmp_path, "d")
    st = volbatch.dask.run(job, client, threads_per_worker=1)
    assert st["blocks_done"] == 27 and st["blocks_remaining"] == 0, st
    assert len(st["workers"]) == 2 and sum(w["blocks_done"] for w in st["workers"]) == 27
    # The tasks ran in the Dask worker processes, not here.
    assert st["ledgers"] == 2 and not st["in_flight"]
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "volbatch.dask.run")


def test_more_volbatch_workers_than_dask_workers(client, reference, tmp_path):
    job, out = job_file(reference, tmp_path, "m")
    st = volbatch.dask.run(job, client, workers=5, threads_per_worker=1)
    assert st["blocks_done"] == 27 and len(st["workers"]) == 5
    eu.assert_same_files(eu.dataset_files(out), reference["files"], "5 tasks on 2 workers")


def test_a_killed_dask_worker_is_rerun_and_the_output_is_identical(client, cli, reference,
                                                                  tmp_path):
    # A larger volume (216 blocks, ~2 s), so the tasks are still running when one worker
    # process is killed.
    big = {"raw": eu.write_zarr2(eu.em_volume((96, 192, 192), seed=32), tmp_path / "big.zarr/r",
                                 CHUNKS)}
    ref_job, ref_out = job_file(big, tmp_path, "big_ref")
    cli("run", ref_job, "--threads", 2, "--quiet")
    job, out = job_file(big, tmp_path, "k")
    jobdir = eu.jobdir_of(out)
    killed = []

    def kill_one_worker_mid_run():
        # Wait for the first recorded block, then SIGKILL the process of a worker holding a claim.
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                st = volbatch.status(jobdir)
            except volbatch.Error:
                time.sleep(0.05)
                continue
            if st["blocks_done"] >= 2 and st["in_flight"]:
                pid = st["in_flight"][0]["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)
    t = threading.Thread(target=kill_one_worker_mid_run)
    t.start()
    st = volbatch.dask.run(job, client, threads_per_worker=1, lease=3)
    t.join()
    assert killed, "no worker was killed: the run finished first"
    assert st["blocks_done"] == 216 and st["blocks_remaining"] == 0 and not st["in_flight"], st
    eu.assert_same_files(eu.dataset_files(out), eu.dataset_files(ref_out), "after a kill")
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the worker
