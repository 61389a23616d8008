"""Jobs whose input and output are on S3 write, object for object, the bytes the same job writes
on local files: with the local executor, with `--executor processes --workers 3`, after a run
killed with SIGKILL and resumed by 3 workers one of which is SIGKILLed mid-run (every block
recorded once done, none failed, no claim left), and for a workflow whose first step writes a
pyramid (levels and OME-Zarr metadata equal). The job directory of a job whose output is at a
URL stays on the local filesystem (default ./s3/BUCKET/PATH.volbatch under the working
directory, or [run] jobdir); `status`, `plan` and `report` work on it and on URLs."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

import engine_util as eu
import remote_util as ru

SHAPE = (64, 96, 96)
CHUNKS = (16, 16, 16)
BLOCKS = 4 * 6 * 6  # one block per output chunk
GAUSS = {"type": "gaussian", "sigma": [1.0, 2.0, 2.0]}


@pytest.fixture(scope="module")
def data(volbatch, s3, tmp_path_factory):
    """The input on local disk and on S3 (zarr-python's Zarr v2, uploaded by boto3), and the
    local job's output: the reference."""
    d = tmp_path_factory.mktemp("s3jobs")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=17), d / "in.zarr" / "raw", CHUNKS)
    bucket = s3.bucket("jobs-input")
    ru.upload_tree(s3.client(), str(d / "in.zarr"), bucket, "em/in.zarr")
    ref = d / "ref.zarr" / "o"
    volbatch("run", eu.write_job(d / "ref.toml", raw, ref, GAUSS, "float32", CHUNKS,
                                 tiling={"block": list(CHUNKS)}), "--threads", 2, "--quiet")
    files = eu.dataset_files(ref)
    assert len(files) > BLOCKS // 2, sorted(files)[:5]
    return {"dir": d, "raw": raw, "url": f"s3://{bucket}/em/in.zarr/raw", "ref": files}


def s3_job(tmp_path, data, bucket, run=None):
    out = f"s3://{bucket}/res/out.zarr/o"
    job = eu.write_job(tmp_path / "job.toml", data["url"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)}, run=run)
    return job, out


def assert_output_equals_reference(s3, bucket, data, what):
    got = ru.object_files(s3.client(), bucket, "res/out.zarr/o")
    eu.assert_same_files(got, data["ref"], what)
    # Nothing but the dataset was written to the bucket: job directories stay local.
    keys = ru.object_keys(s3.client(), bucket)
    assert all(k.startswith("res/out.zarr/") for k in keys), keys
    assert not [k for k in keys if ".volbatch" in k], keys


def test_local_executor_equals_the_local_job(volbatch, s3, bucket, data, tmp_path):
    job, out = s3_job(tmp_path, data, bucket)
    p = ru.run(volbatch.exe, "run", job, "--threads", 2, cwd=tmp_path)
    assert f"{BLOCKS} done" in p.stdout, p.stdout
    assert_output_equals_reference(s3, bucket, data, "local executor, S3 in and out")
    # The default job directory: the URL's path under the working directory.
    jobdir = tmp_path / "s3" / bucket / "res" / "out.zarr" / "o.volbatch"
    assert f"job:    {jobdir}" in p.stdout, p.stdout
    assert (jobdir / "job.json").is_file()
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == BLOCKS and st["blocks_total"] == BLOCKS, st
    text = volbatch("status", jobdir).stdout
    assert out in text or str(BLOCKS) in text, text
    # Run again: every block is skipped, nothing rewritten.
    p = ru.run(volbatch.exe, "run", job, "--threads", 2, cwd=tmp_path)
    assert f"0 done, {BLOCKS} skipped" in p.stdout, p.stdout
    # The report reads input and output slices from S3.
    volbatch("report", jobdir)
    page = (jobdir / "report.html").read_text()
    assert "<svg" in page and "data:image/png;base64," in page


def test_processes_executor_equals_the_local_job(volbatch, s3, bucket, data, tmp_path):
    jobdir = tmp_path / "jobs" / "p3"
    job, _ = s3_job(tmp_path, data, bucket, run={"jobdir": str(jobdir)})
    p = ru.run(volbatch.exe, "run", job, "--executor", "processes", "--workers", 3,
               "--threads", 1, "--quiet", cwd=tmp_path, timeout=180)
    assert f"{BLOCKS} done of {BLOCKS}" in p.stdout, p.stdout
    assert_output_equals_reference(s3, bucket, data, "3 processes, S3 in and out")
    assert not (tmp_path / "s3").exists()  # [run] jobdir was used, not the default
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(BLOCKS)) and not failed and counts["bad"] == 0
    assert len(os.listdir(jobdir / "ledger")) == 3
    assert not eu.claims_in_hand(jobdir)


def worker_pids(parent):
    """{worker index: pid} of the `volbatch work` children of a processes executor."""
    out = {}
    for tid in os.listdir(f"/proc/{parent}/task"):
        try:
            kids = open(f"/proc/{parent}/task/{tid}/children").read().split()
        except OSError:
            continue
        for kid in kids:
            try:
                argv = open(f"/proc/{kid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if len(argv) > 3 and argv[1] == b"work" and b"--worker" in argv:
                out[int(argv[argv.index(b"--worker") + 1])] = int(kid)
    return out


def ledger_records(jobdir, worker=None):
    d = os.path.join(jobdir, "ledger")
    if not os.path.isdir(d):
        return 0
    names = os.listdir(d) if worker is None else [f"worker-{worker:04d}.log"]
    return sum(os.path.getsize(os.path.join(d, n)) // 32 for n in names
               if os.path.exists(os.path.join(d, n)))


def test_killed_run_and_killed_worker_then_identical(volbatch, s3, bucket, data, tmp_path):
    jobdir = str(tmp_path / "jobdir")
    job, _ = s3_job(tmp_path, data, bucket, run={"jobdir": jobdir})
    # 1. A local run, SIGKILLed once a few blocks are recorded.
    p = subprocess.Popen([volbatch.exe, "run", str(job), "--threads", "1", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ru.wait_for(lambda: p.poll() is not None or ledger_records(jobdir) >= 5, 60,
                "5 blocks recorded by the local run", every_s=0.002)
    assert p.poll() is None, "the run finished before it could be killed; make it longer"
    p.kill()
    p.wait()
    first = ledger_records(jobdir)
    assert 0 < first < BLOCKS, first
    # 2. Resumed by 3 workers. Each is frozen (SIGSTOP) as soon as it appears, so that the run
    # cannot end before the kill however fast the machine; then one is let go until it has
    # recorded a block, SIGKILLed mid-run (the pool starts it again and it, or the others,
    # take over its runs), and the others are let go.
    parent = subprocess.Popen([volbatch.exe, "run", str(job), "--executor", "processes",
                               "--workers", "3", "--threads", "1", "--lease", "2", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    frozen = {}

    def freeze_new_workers():
        for w, pid in worker_pids(parent.pid).items():
            if w not in frozen:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:  # gone between the listing and the signal
                    continue
                frozen[w] = pid
        return len(frozen) == 3 or parent.poll() is not None

    ru.wait_for(freeze_new_workers, 60, "3 workers started", every_s=0.002)
    assert parent.poll() is None, "the resumed run ended before its workers started"
    w0, victim = min(frozen.items())
    base = ledger_records(jobdir, w0)
    os.kill(victim, signal.SIGCONT)
    ru.wait_for(lambda: ledger_records(jobdir, w0) > base, 60, f"worker {w0} records a block",
                every_s=0.002)
    before_kill = ledger_records(jobdir)
    os.kill(victim, signal.SIGKILL)
    for pid in frozen.values():
        if pid != victim:
            os.kill(pid, signal.SIGCONT)
    stdout, stderr = parent.communicate(timeout=180)
    assert parent.returncode == 0, stderr
    assert before_kill < BLOCKS, "killed after every block was done: make the job longer"
    assert "workers restarted: 1" in stdout or "died" in stderr, (stdout, stderr)
    assert_output_equals_reference(s3, bucket, data, "killed, resumed, a worker killed")
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(BLOCKS)) and not failed and counts["bad"] == 0, (len(done), failed)
    assert not eu.claims_in_hand(jobdir)
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == BLOCKS and st["blocks_remaining"] == 0, st


def workflow_text(input_path, root, jobroot):
    """Step 1 smooths and writes a 2-level pyramid, step 2 thresholds step 1's output."""
    out = lambda name, extra="": (f'{{ path = "{root}/{name}", dtype = "float32", '
                                  f'chunks = [16, 16, 16], codec = "zstd:1"{extra} }}')
    return (f'[run]\nthreads = 2\n\n'
            f'[[step]]\nname = "smooth"\ninput = {{ path = "{input_path}" }}\n'
            f'output = {out("smooth", ", pyramid = 2")}\n'
            f'operator = {eu._toml_value(GAUSS)}\ntiling = {{ block = [32, 32, 32] }}\n'
            f'run = {{ jobdir = "{jobroot}/smooth" }}\n\n'
            f'[[step]]\nname = "mask"\ninput = {{ step = "smooth" }}\n'
            f'output = {out("mask")}\n'
            f'operator = {{ type = "threshold", value = 110.0 }}\n'
            f'tiling = {{ block = [32, 32, 32] }}\nrun = {{ jobdir = "{jobroot}/mask" }}\n')


def test_workflow_with_a_pyramid_on_s3_equals_local(volbatch, s3, bucket, data, tmp_path):
    local_wf = tmp_path / "local.toml"
    local_wf.write_text(workflow_text(data["raw"], tmp_path / "w.zarr", tmp_path / "lj"))
    p = ru.run(volbatch.exe, "run", local_wf, cwd=tmp_path)
    assert "pyramid: 2 levels" in p.stdout, p.stdout
    s3_wf = tmp_path / "s3.toml"
    s3_wf.write_text(workflow_text(data["url"], f"s3://{bucket}/wf/w.zarr", tmp_path / "sj"))
    p = ru.run(volbatch.exe, "run", s3_wf, cwd=tmp_path, timeout=180)
    assert "step 1/2 smooth" in p.stdout and "step 2/2 mask" in p.stdout, p.stdout
    assert "pyramid: 2 levels" in p.stdout, p.stdout

    local = {k: v for k, v in eu.dataset_files(tmp_path / "w.zarr").items()
             if ".volbatch" not in k}
    remote = ru.object_files(s3.client(), bucket, "wf/w.zarr")
    eu.assert_same_files(remote, local, "workflow with a pyramid")
    for level in ["smooth/zarr.json", "smooth_s1/zarr.json", "smooth_s2/zarr.json",
                  "mask/zarr.json", "zarr.json"]:
        assert level in remote, sorted(remote)[:20]
    ome = json.loads(remote["zarr.json"])["attributes"]["ome"]
    assert [d["path"] for d in ome["multiscales"][0]["datasets"]] == \
        ["smooth", "smooth_s1", "smooth_s2"], ome
    # Every step's job directory is where [run] jobdir said, on this filesystem.
    st = json.loads(ru.run(volbatch.exe, "status", s3_wf, "--json", cwd=tmp_path).stdout)
    assert [s["name"] for s in st["steps"]] == ["smooth", "mask"]
    for s in st["steps"]:
        assert s["status"]["blocks_done"] == s["status"]["blocks_total"] > 0, s
    assert (tmp_path / "sj" / "smooth" / "job.json").is_file()
    assert not (tmp_path / "s3").exists()


def test_plan_info_import_export_with_urls(volbatch, s3, bucket, data, tmp_path):
    a = eu.read_zarr2(data["raw"])
    plan = json.loads(volbatch("plan", data["url"], "--json").stdout)
    assert plan and all("chunks" in c for c in plan), plan
    local_plan = json.loads(volbatch("plan", data["raw"], "--json").stdout)
    assert [c["chunks"] for c in plan] == [c["chunks"] for c in local_plan]
    np.save(tmp_path / "a.npy", a[:20, :30, :40])
    url = f"s3://{bucket}/x/imp.zarr/raw"
    volbatch("import", tmp_path / "a.npy", url, "--chunks", "8,16,16")
    volbatch("export", url, tmp_path / "b.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), a[:20, :30, :40])
    info = json.loads(volbatch("info", url, "--json").stdout)
    assert info["shape"] == [20, 30, 40] and info["chunks"] == [8, 16, 16], info
    # An existing dataset at a URL is not overwritten without --overwrite.
    p = volbatch("import", tmp_path / "a.npy", url, "--chunks", "8,16,16", check=False)
    eu.one_line_error(p, url)
