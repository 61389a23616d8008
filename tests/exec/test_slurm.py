"""The slurm executor on a real single-node Slurm (munged, slurmctld, slurmd started by
scripts/slurm.sh, stopped by PID): a job array writes what a local run writes, survives
`scancel` of one array task and `scontrol requeue` of another, resubmits a task that died,
stops resubmitting tasks that die at start-up, and `volbatch status` reads the array's task
states."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

import engine_util as eu
import exec_util as xu
from exec_util import CHUNKS, GAUSS, job

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SLOW = {"type": "gaussian", "sigma": [6.0, 6.0, 6.0]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURMCTLD_PORT=str(free_port()), SLURMD_PORT=str(free_port()))
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "slurm.sh"), "start", str(d)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = p.stdout.strip()
    yield d
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "slurm.sh"), "stop", str(d)], timeout=60)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    for name in ("munged", "slurmctld", "slurmd"):
        assert not os.path.exists(d / f"{name}.pid")


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    return xu.reference_data(volbatch, tmp_path_factory.mktemp("slurm_data"), 5,
                             {"fast": GAUSS, "slow": SLOW})


def assert_clean(jobdir, out):
    assert not os.listdir(os.path.join(jobdir, "claims"))
    assert not eu.temporaries(out)


def submissions(jobdir):
    path = os.path.join(jobdir, "slurm", "jobs.json")
    if not os.path.exists(path):
        return []
    return json.load(open(path))["submissions"]


def task_states(job_id):
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                         text=True).stdout
    states = {}
    for line in out.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        states[f.get("ArrayTaskId")] = f.get("JobState")
    return states


def test_job_array_writes_what_a_local_run_writes(volbatch, slurm, data, tmp_path):
    path, out, jobdir = job(tmp_path, data, "array", run={"slurm": {"partition": "debug",
                                                                    "time": "10:00"}})
    p = volbatch("run", path, "--executor", "slurm", "--workers", 3, "--threads", 1, "--quiet",
                 timeout=300)
    assert "128 done of 128" in p.stdout, p.stdout
    assert "submitted Slurm job" in p.stdout
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["fast"], "slurm array")
    assert_clean(jobdir, out)
    script = open(os.path.join(jobdir, "slurm", "submit.sbatch")).read()
    for line in ("#SBATCH --array=0-2", "#SBATCH --requeue", "#SBATCH --signal=B:TERM@120",
                 "#SBATCH --partition=debug", "#SBATCH --time=10:00"):
        assert line + "\n" in script, script
    # The tasks that ran wrote their own logs; on 2 cores the third may still be pending when
    # the first two have done every block, and the executor cancels it: it had nothing to do.
    job_id = submissions(jobdir)[0]["job_id"]
    logs = sorted(os.listdir(os.path.join(jobdir, "logs")))
    assert {f"slurm-{job_id}_0.out", f"slurm-{job_id}_1.out"} <= set(logs), logs
    st = volbatch.status(jobdir)
    assert st["blocks_done"] == 128
    tasks = st["engines"]["slurm"]["tasks"]
    assert set(tasks) == {"0", "1", "2"}, tasks
    ran = [i for i, t in tasks.items() if t["state"] == "COMPLETED"]
    assert len(ran) >= 2 and all(t["state"] in ("COMPLETED", "CANCELLED") for t in tasks.values())
    assert len(logs) == len(ran), (logs, tasks)
    text = volbatch("status", jobdir).stdout
    assert f"slurm: job {job_id}:" in text and f"{len(ran)} COMPLETED" in text, text


def test_scancel_of_one_task_and_requeue_of_another(volbatch, slurm, data, tmp_path):
    path, out, jobdir = job(tmp_path, data, "faults", op=SLOW)
    run = subprocess.Popen([volbatch.exe, "run", path, "--executor", "slurm", "--workers", "4",
                            "--threads", "1", "--lease", "2", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    job_id = None
    # Wait until a task runs and has done some blocks, then hold its worker: a task that starts
    # first helps the lanes of tasks not yet started, and alone it could end the job before
    # task 1 shows as running. Held, it cannot; then wait for tasks 0 and 1 to run.
    first = []
    while time.monotonic() < deadline and run.poll() is None:
        subs = submissions(jobdir)
        if subs and xu.blocks_done(jobdir) >= 6:
            job_id = subs[0]["job_id"]
            first = xu.worker_pids(jobdir)
            if first:
                break
        time.sleep(0.02)
    assert job_id and run.poll() is None, "the array did not start"
    assert first, "no running worker found to freeze"
    with xu.frozen(first):
        while time.monotonic() < deadline and run.poll() is None:
            states = task_states(job_id)
            if states.get("0") == "RUNNING" and states.get("1") == "RUNNING":
                break
            time.sleep(0.05)
        workers = xu.worker_pids(jobdir)
        with xu.frozen(workers):
            assert xu.blocks_done(jobdir) < 128, "the job ended before the cancel; make it longer"
            subprocess.run(["scancel", f"{job_id}_1"], check=True)
            subprocess.run(["scontrol", "requeue", f"{job_id}_0"], check=True)
    # A requeued task waits for a begin time ahead; start it now, as a busy cluster would later.
    time.sleep(1)
    subprocess.run(["scontrol", "update", f"jobid={job_id}_0", "starttime=now"], check=False)
    stdout, stderr = run.communicate(timeout=400)
    assert run.returncode == 0, stderr
    assert "128 done of 128" in stdout, stdout
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["slow"], "after scancel + requeue")
    assert_clean(jobdir, out)
    done, failed, counts = eu.read_ledgers(jobdir)
    assert done == set(range(128)) and not failed and counts["bad"] == 0
    states = task_states(job_id)
    assert states.get("1") == "CANCELLED", states


def test_a_dead_task_is_resubmitted(volbatch, slurm, data, tmp_path):
    path, out, jobdir = job(tmp_path, data, "resubmit", op=SLOW)
    run = subprocess.Popen([volbatch.exe, "run", path, "--executor", "slurm", "--workers", "1",
                            "--threads", "2", "--lease", "2", "--restarts", "3", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # Its worker is held as soon as it has done some blocks (asking squeue first let a fast
    # machine finish the job in between).
    workers = []
    while time.monotonic() < deadline and run.poll() is None:
        if xu.blocks_done(jobdir) >= 4:
            workers = xu.worker_pids(jobdir)
            if workers:
                break
        time.sleep(0.02)
    # The only task dies: nobody is left to take its blocks, so the executor submits it again.
    assert workers, "no running worker found to freeze"
    with xu.frozen(workers):
        assert xu.blocks_done(jobdir) < 128, "the job ended before the kill; make it longer"
        subprocess.run(["scancel", "--signal=KILL", submissions(jobdir)[0]["job_id"]], check=True)
    stdout, stderr = run.communicate(timeout=400)
    assert run.returncode == 0, stderr
    assert "resubmitted tasks 0 as Slurm job" in stdout, stdout
    assert "workers restarted: 1" in stdout, stdout
    assert len(submissions(jobdir)) == 2
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["slow"], "after a resubmission")
    assert_clean(jobdir, out)


def test_tasks_that_die_at_start_up_are_given_up(volbatch, slurm, data, tmp_path):
    # A job directory the tasks cannot write in (chattr +i: chmod does not stop root): every
    # task dies opening its ledger. Resubmitted after 0.5 s, then 1 s, then given up.
    path, out, jobdir = job(tmp_path, data, "startup")
    volbatch("run", path, "--prepare")
    ledger = os.path.join(jobdir, "ledger")
    os.makedirs(ledger, exist_ok=True)
    p = subprocess.run(["chattr", "+i", ledger], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"chattr +i: {p.stderr.strip()} (needs root and ext4, xfs or btrfs)")
    try:
        p = volbatch("run", path, "--executor", "slurm", "--workers", 2, "--threads", 1,
                     "--restarts", 10, check=False, timeout=300)
    finally:
        subprocess.run(["chattr", "-i", ledger], check=True)
    assert p.returncode == 1, (p.stdout, p.stderr)
    # Both tasks are resubmitted together: two resubmissions of the 10 allowed.
    assert "workers restarted: 2" in p.stdout, (p.stdout, p.stderr)
    assert len(submissions(jobdir)) == 3
    assert "submitting 0-1 again in 0.5 s" in p.stderr and "again in 1 s" in p.stderr, p.stderr
    last_job = submissions(jobdir)[-1]["job_id"]
    for i in (0, 1):
        log = os.path.join(jobdir, "logs", f"slurm-{last_job}_{i}.out")
        line = (f"volbatch: Slurm array task {i} (job {last_job}_{i}) died 3 times without "
                f"recording a block (FAILED (exit 1)); not resubmitting it; its last line "
                f'({log}): "')
        given_up = [l for l in p.stderr.splitlines() if l.startswith(line)]
        assert len(given_up) == 1, p.stderr
        quoted = given_up[0][len(line):-1]
        assert f"worker-{i:04d}.log" in quoted and "Operation not permitted" in quoted, quoted
        assert open(log).read().strip().splitlines()[-1] == quoted
    assert re.search(r"128 blocks not done \(Slurm array task [01] .*; and 1 more\)", p.stderr)


def test_detach_returns_at_once_and_status_follows(volbatch, slurm, data, tmp_path):
    """A detached job with a pyramid: its 64^3 blocks write level 1 as they finish; the local
    run the hint names afterwards skips every block and writes only level 2."""
    out = tmp_path / "detach.zarr/o"
    path = eu.write_job(tmp_path / "detach.toml", data["raw"], out, GAUSS, "float32", CHUNKS,
                        tiling={"block": [64, 64, 64]}, output_extra={"pyramid": 2})
    jobdir = eu.jobdir_of(out)
    p = volbatch("run", path, "--executor", "slurm", "--workers", 2, "--threads", 1, "--detach")
    assert "follow it with: volbatch status" in p.stdout, p.stdout
    hint = f"pyramid: once the job is complete, run `volbatch run {path} --executor local`"
    assert hint in p.stdout, p.stdout
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        st = volbatch.status(jobdir)
        states = {t["state"] for t in st["engines"]["slurm"].get("tasks", {}).values()}
        if st["blocks_remaining"] == 0 and states == {"COMPLETED"}:
            break
        time.sleep(0.5)
    assert st["blocks_remaining"] == 0 and states == {"COMPLETED"}, st
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["fast"], "detached")
    p = volbatch("run", path, "--executor", "local", "--quiet")
    assert "blocks: 0 done, 16 skipped" in p.stdout, p.stdout
    assert "pyramid: 2 levels" in p.stdout and "(1 written as blocks finished)" in p.stdout, \
        p.stdout
    passes = tmp_path / "detach.zarr/.volbatch-pyramid"
    assert not (passes / "o_s1").exists() and (passes / "o_s2").is_dir()


def test_bad_slurm_tables_fail_with_one_line(volbatch, data, tmp_path):
    path, _, _ = job(tmp_path, data, "bad", run={"slurm": {"partiton": "debug"}})
    e = eu.one_line_error(volbatch("run", path, "--executor", "slurm", check=False))
    assert "partiton" in e, e
    path, _, _ = job(tmp_path, data, "bad2", run={"slurm": {"time": "soon"}})
    e = eu.one_line_error(volbatch("run", path, "--executor", "slurm", check=False))
    assert "[run.slurm] time" in e, e
