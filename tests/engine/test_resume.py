"""Resume (DESIGN invariants 6 and 7): a run killed with SIGKILL at random moments and run again
until it completes writes exactly what an uninterrupted run writes; at every kill point each
block the ledger records done already has all its chunks, byte-identical to the reference; no
temporary file survives; a changed job is refused naming what changed; --force starts over."""
import json
import os
import random
import shutil
import subprocess
import time

import numpy as np
import pytest

import engine_util as eu

SHAPE = (128, 256, 256)  # 256 blocks of 32^3: a few seconds with 2 threads
CHUNKS = (32, 32, 32)
GAUSS = {"type": "gaussian", "sigma": [1.0, 2.0, 2.0]}


@pytest.fixture(scope="module")
def reference(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    a = eu.em_volume(SHAPE, seed=6)
    a[:64, :128, :128] = 0  # a corner whose smoothed chunks equal the fill value: not stored
    raw = eu.write_zarr2(a, d / "in.zarr/raw", CHUNKS)
    out = d / "ref.zarr/o"
    job = eu.write_job(d / "ref.toml", raw, out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    t0 = time.monotonic()
    volbatch("run", job, "--threads", 2, "--quiet")
    seconds = time.monotonic() - t0
    t0 = time.monotonic()  # what a run costs before its first block: loading the program
    volbatch("status", d / "nothing", check=False)
    startup = min(time.monotonic() - t0, 0.9 * seconds)
    files = eu.dataset_files(out)
    assert 200 < sum(k.startswith("c/") for k in files) < 256  # some chunks are fill value
    return {"dir": d, "raw": raw, "files": files, "seconds": seconds, "startup": startup}


def check_ledger_against_reference(volbatch, jobdir, out, ref_files):
    """Every block the ledger records done has all its chunks, byte-identical to the reference
    run's (and no file where the reference stores none). Returns the done blocks."""
    done, failed, counts = eu.read_ledgers(jobdir)
    assert not failed and counts["bad"] == 0, counts
    if not os.path.exists(os.path.join(jobdir, "job.json")):  # killed while starting
        assert not done and not os.path.exists(out), (done, out)
        return done, None
    ident = eu.job_json(jobdir)["identity"]
    shape, block = ident["output"]["shape"], ident["tiling"]["block"]
    chunks = ident["output"]["chunks"]
    total = int(np.prod(eu.grid_shape(shape, block)))
    assert all(0 <= b < total for b in done), sorted(done)[-3:]
    now = eu.dataset_files(out)
    for b in sorted(done):
        begin, end = eu.block_box(b, shape, block)
        for key in eu.chunk_keys(begin, end, chunks):
            assert now.get(key) == ref_files.get(key), (
                f"block {b} {begin}..{end} is recorded done but chunk {key} is "
                f"{'missing' if key not in now else 'different'} (reference "
                f"{'has it' if key in ref_files else 'stores none'})")
    st = volbatch.status(jobdir)
    assert st["blocks_total"] == total and st["blocks_done"] == len(done), (st, len(done))
    assert st["blocks_remaining"] == total - len(done)
    return done, total


def test_sigkill_at_random_moments_then_resume_is_bit_identical(volbatch, reference, tmp_path):
    ref_seconds, startup = reference["seconds"], reference["startup"]
    out = tmp_path / "killed.zarr/o"
    jobdir = eu.jobdir_of(out)
    job = eu.write_job(tmp_path / "killed.toml", reference["raw"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    rng = random.Random(20240601)
    kills, progress, temporaries_seen = 0, [], 0
    for attempt in range(20):
        p = volbatch.popen("run", job, "--threads", 2, "--quiet")
        if attempt < 4:
            # Kill partway: after a random number of recorded blocks, or a random delay,
            # whichever comes first (a loaded machine must not let the run finish first).
            ledger = os.path.join(str(jobdir), "ledger", "worker-0000.log")
            base = os.path.getsize(ledger) // 32 if os.path.exists(ledger) else 0
            target = base + rng.randint(2, 40)
            deadline = time.monotonic() + 10 * ref_seconds + 30
            while p.poll() is None and time.monotonic() < deadline:
                if os.path.exists(ledger) and os.path.getsize(ledger) // 32 >= target:
                    break
                time.sleep(0.005)
            if p.poll() is None:
                p.kill()  # SIGKILL
                p.wait()
                kills += 1
                temporaries_seen += len(eu.temporaries(out))
                done, _ = check_ledger_against_reference(volbatch, jobdir, out,
                                                         reference["files"])
                progress.append(len(done))
                continue
        else:
            p.wait(timeout=300)
        err = p.stderr.read()
        assert p.returncode == 0, (p.returncode, err)
        break
    ident = eu.job_json(jobdir)["identity"]
    total = int(np.prod(eu.grid_shape(ident["output"]["shape"], ident["tiling"]["block"])))
    assert total == 256
    print(f"\nreference run {ref_seconds:.2f} s (startup {startup:.2f} s); {kills} kills; blocks done at each kill: "
          f"{progress} of {total}; temporaries seen at kill points: {temporaries_seen}")
    assert kills >= 3, (kills, progress)
    assert any(0 < n < total for n in progress), progress  # killed partway, not at the ends
    assert progress == sorted(progress)  # resumes keep what was done
    with open(jobdir + "/summary.json") as f:
        last = json.load(f)
    assert last["blocks_skipped"] == progress[-1] and last["blocks_failed"] == 0, last
    eu.assert_same_files(reference["files"], eu.dataset_files(out), "killed and resumed")
    assert eu.temporaries(out) == []
    # The job directory grows with workers, not blocks: five runs, 256 blocks, one worker.
    jobdir_files = [os.path.join(d, n) for d, _, ns in os.walk(jobdir) for n in ns]
    assert len(jobdir_files) <= 8, jobdir_files
    st = volbatch.status(jobdir)
    assert (st["blocks_done"], st["blocks_remaining"], st["blocks_failed"]) == (total, 0, 0), st
    # A completed job run again does nothing.
    volbatch("run", job, "--quiet")
    with open(jobdir + "/summary.json") as f:
        again = json.load(f)
    assert (again["blocks_done"], again["blocks_skipped"]) == (0, total), again


# ---- a changed job, --force, --resume, status ------------------------------------------------

SMALL = (40, 70, 90)


@pytest.fixture
def small(volbatch, tmp_path):
    raw = eu.write_zarr2(eu.em_volume(SMALL, seed=7), tmp_path / "in.zarr/raw", CHUNKS)
    out = tmp_path / "out.zarr/o"
    spec = dict(input=raw, output=out, operator={"type": "threshold", "value": 120},
                dtype="uint8", chunks=CHUNKS, tiling={"block": [32, 64, 32]}, format="zarr2")
    volbatch("run", eu.write_job(tmp_path / "job.toml", **spec), "--quiet")
    return {"dir": tmp_path, "spec": spec, "out": out, "jobdir": eu.jobdir_of(out)}


CHANGES = [
    ("operator.value", dict(operator={"type": "threshold", "value": 121})),
    ("tiling.padding", dict(tiling={"block": [32, 64, 32], "padding": "edge"})),
    ("tiling.block", dict(tiling={"block": [32, 32, 32]})),
    ("output.dtype", dict(dtype="uint16")),
    ("output.codecs", dict(codec="gzip:1")),
]


@pytest.mark.parametrize("field,change", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_job_is_refused_naming_the_field(volbatch, small, field, change):
    before = eu.dataset_files(small["out"])
    ledger_before = eu.read_ledgers(small["jobdir"])
    job = eu.write_job(small["dir"] / "changed.toml", **{**small["spec"], **change})
    line = eu.one_line_error(volbatch("run", job, "--quiet", check=False), field, "--force")
    assert "changed" in line
    eu.assert_same_files(before, eu.dataset_files(small["out"]), "after a refused run")
    assert eu.read_ledgers(small["jobdir"]) == ledger_before


def test_force_starts_over_and_status_counts(volbatch, small):
    st = volbatch.status(small["jobdir"])
    total = st["blocks_total"]
    assert total == 2 * 2 * 3  # (40, 70, 90) in blocks of (32, 64, 32)
    assert (st["blocks_done"], st["blocks_failed"], st["blocks_remaining"]) == (total, 0, 0), st
    assert st["last_run"]["blocks_done"] == total
    # A threshold above every value: every chunk becomes fill value, so --force must leave no
    # chunk of the old result behind.
    job = eu.write_job(small["dir"] / "forced.toml",
                       **{**small["spec"], "operator": {"type": "threshold", "value": 255}})
    eu.one_line_error(volbatch("run", job, "--quiet", check=False), "operator.value")
    volbatch("run", job, "--force", "--quiet")
    st2 = volbatch.status(small["jobdir"])
    assert st2["fingerprint"] != st["fingerprint"]
    assert (st2["blocks_done"], st2["blocks_remaining"]) == (total, 0), st2
    assert st2["last_run"]["blocks_skipped"] == 0 and st2["last_run"]["blocks_done"] == total
    got = eu.read_zarr2(small["out"])
    assert got.shape == SMALL and not got.any(), int(got.sum())
    assert not [k for k in eu.dataset_files(small["out"]) if not k.startswith(".")]


def test_resume_needs_a_job_directory(volbatch, tmp_path):
    raw = eu.write_zarr2(eu.em_volume((20, 20, 20)), tmp_path / "in.zarr/raw", (8, 8, 8))
    out = tmp_path / "out.zarr/o"
    job = eu.write_job(tmp_path / "j.toml", raw, out, {"type": "identity"}, chunks=(8, 8, 8))
    eu.one_line_error(volbatch("run", job, "--resume", check=False), eu.jobdir_of(out))
    assert not (tmp_path / "out.zarr/o").exists()
    volbatch("run", job, "--quiet")
    volbatch("run", job, "--resume", "--quiet")
    st = volbatch.status(eu.jobdir_of(out))
    assert st["blocks_done"] == st["blocks_total"] >= 1


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_killed_between_writing_and_renaming_a_chunk(volbatch, reference, tmp_path):
    """strace kills the run at a chunk's rename: its temporary is on disk, complete but never
    renamed. The ledger must not count that block, and the resume sweeps the temporary."""
    out = tmp_path / "renamed.zarr/o"
    jobdir = eu.jobdir_of(out)
    job = eu.write_job(tmp_path / "renamed.toml", reference["raw"], out, GAUSS, "float32", CHUNKS,
                       tiling={"block": list(CHUNKS)})
    progress = []
    for n in (30, 25):
        p = subprocess.run(["strace", "-f", "-o", "/dev/null", "-e",
                            f"inject=rename:signal=SIGKILL:when={n}", volbatch.exe, "run", job,
                            "--threads", "2", "--quiet"], capture_output=True, text=True, timeout=300)
        assert p.returncode != 0, "the run was not killed"
        assert eu.temporaries(out), "no temporary left at the killed rename"
        done, total = check_ledger_against_reference(volbatch, jobdir, out, reference["files"])
        progress.append(len(done))
    assert 0 < progress[0] <= progress[1] < total, progress
    volbatch("run", job, "--threads", 2, "--quiet")
    assert eu.temporaries(out) == []
    eu.assert_same_files(reference["files"], eu.dataset_files(out), "killed at rename, resumed")
