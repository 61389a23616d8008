"""A job whose output disk fills up fails with a clear message, leaves no half-written chunk and
no done record for a block whose chunks are not all there, and after space is freed a resume
writes exactly what an undisturbed run writes. On a read-only mount reads work and every write
fails with one line and creates nothing."""
import os
import subprocess

import numpy as np
import pytest

import engine_util as eu

SHAPE = (64, 128, 128)
CHUNKS = (32, 32, 32)  # 32 blocks of 32^3; float32 raw: 128 KiB per chunk, 4 MiB in all
GAUSS = {"type": "gaussian", "sigma": [1.5, 1.5, 1.5]}


@pytest.fixture
def mount(tmp_path):
    mounted = []

    def make(name, size):
        d = tmp_path / name
        d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], check=True)
        mounted.append(d)
        return d

    yield make
    for d in reversed(mounted):
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("disk")
    raw = eu.write_zarr2(eu.em_volume(SHAPE, seed=9), d / "in.zarr/raw", CHUNKS)
    ref = d / "ref.zarr/o"
    volbatch("run", eu.write_job(d / "ref.toml", raw, ref, GAUSS, "float32", CHUNKS, "raw",
                                 tiling={"block": list(CHUNKS)}), "--quiet")
    return {"raw": raw, "ref": eu.dataset_files(ref)}


def test_a_full_disk_fails_cleanly_and_a_resume_completes(volbatch, data, mount, tmp_path):
    disk = mount("small", "1600k")  # room for about a third of the output
    out = disk / "out.zarr/o"
    job = eu.write_job(tmp_path / "full.toml", data["raw"], out, GAUSS, "float32", CHUNKS, "raw",
                       tiling={"block": list(CHUNKS)}, run={"retries": 0})
    p = volbatch("run", job, "--threads", 2, "--quiet", check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("volbatch: ") and "No space left on device" in last, p.stderr
    jobdir = eu.jobdir_of(out)
    # Every chunk on disk is whole and equal to the reference; a block recorded done has all
    # of its chunks (here one chunk per block).
    files = eu.dataset_files(out)
    chunks = {k: v for k, v in files.items() if k.startswith("c/")}  # Zarr v3 chunk keys
    assert 0 < len(chunks) < 32, len(chunks)
    for key, value in chunks.items():
        assert value == data["ref"][key], f"chunk {key} differs from the reference"
    assert not eu.temporaries(out), eu.temporaries(out)
    done, _, counts = eu.read_ledgers(jobdir)
    assert counts["torn_bytes"] == 0 and counts["bad"] == 0
    grid = eu.grid_shape(SHAPE, CHUNKS)
    for b in done:
        key = "c/" + "/".join(map(str, np.unravel_index(b, grid)))
        assert key in chunks, f"block {b} is recorded done but its chunk {key} is absent"
    # Space is freed (the mount grows); the resume writes exactly the reference.
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    volbatch("run", job, "--threads", 2, "--quiet")
    eu.assert_same_files(eu.dataset_files(out), data["ref"], "after the disk filled up")
    assert not eu.temporaries(out)


def test_a_read_only_mount_reads_and_refuses_writes(volbatch, data, mount, tmp_path):
    disk = mount("ro", "16m")
    ds = disk / "data.zarr/raw"
    volbatch("copy", data["raw"], ds, "--format", "zarr2")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    before = sorted(os.path.relpath(os.path.join(r, f), disk)
                    for r, _, fs in os.walk(disk) for f in fs)
    # Reads work.
    assert "shape" in volbatch("info", ds).stdout.lower()
    volbatch("export", ds, tmp_path / "x.npy")
    assert np.load(tmp_path / "x.npy").shape == SHAPE
    # Every write fails with one line naming the path and creates nothing.
    cases = [
        ("create", disk / "new.zarr/a", "--shape", "8,8,8", "--chunks", "8,8,8"),
        ("copy", data["raw"], disk / "copy.zarr/a"),
        ("import", tmp_path / "x.npy", disk / "imp.zarr/a"),
    ]
    for args in cases:
        e = eu.one_line_error(volbatch(*args, check=False))
        assert "Read-only file system" in e, (args, e)
        assert str(disk) in e, (args, e)
    job = eu.write_job(tmp_path / "ro.toml", ds, disk / "out.zarr/o", GAUSS, "float32", CHUNKS)
    e = eu.one_line_error(volbatch("run", job, "--quiet", check=False))
    assert "Read-only file system" in e and str(disk) in e, e
    after = sorted(os.path.relpath(os.path.join(r, f), disk)
                   for r, _, fs in os.walk(disk) for f in fs)
    assert after == before
