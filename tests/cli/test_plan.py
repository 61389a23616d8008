"""`volbatch plan`: on a generated EM-like volume, the chunk (or shard) files it predicts are
exactly the files `volbatch copy` then writes with that candidate, and the compression ratio it
measures on a sample is within 10% of the copy's; constraints mark candidates; bad arguments
fail in one line."""
import json
import os

import numpy as np
import pytest
import zarr


def em_like(shape, seed=1):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    v = 120 + 60 * np.sin(x / 9 + y / 13) * np.cos(z / 7) + rng.normal(0, 12, shape)
    v[(np.sin(x / 17 + z / 11) > 0.95)] = 30  # membranes
    return np.clip(v, 0, 255).astype(np.uint8)


def chunk_files(root):
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.join(d, n) for n in names if n not in ("zarr.json",)]
    return out


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    g = zarr.open_group(str(d / "v.zarr"), mode="w")
    g.create_dataset("raw", data=em_like((70, 200, 256)), chunks=(32, 64, 64))
    return d


def test_predicted_files_and_ratio_match_the_copy(volbatch, volume):
    src = volume / "v.zarr/raw"
    p = volbatch("plan", src, "--chunks", "32,64,64", "--chunks", "64,128,128", "--codec",
                 "zstd:3,blosc:lz4:5:shuffle,gzip:6", "--max-files", "40", "--json")
    cands = json.loads(p.stdout)
    assert len(cands) == 6
    sharded = [c for c in cands if c["shards"]]
    assert sharded and all(c["chunks"] == [32, 64, 64] for c in sharded)  # 3*4*4 = 48 chunks > 40
    for i, c in enumerate(cands):
        dst = volume / f"out{i}.zarr"
        args = ["copy", src, dst, "--format", "zarr3", "--codec", c["codec"],
                "--chunks", ",".join(map(str, c["chunks"]))]
        if c["shards"]:
            args += ["--shards", ",".join(map(str, c["shards"]))]
        volbatch(*args)
        files = chunk_files(dst)
        assert len(files) == c["files"], (c, len(files))
        assert c["files"] <= 40
        if not c["shards"]:
            stored = sum(os.path.getsize(f) for f in files)
            decoded = len(files) * c["chunk_bytes"]  # Zarr v3 stores edge chunks whole
            real = decoded / stored
            assert abs(c["ratio"] - real) <= 0.10 * real, (c, real)
        assert c["decode_mb_s"] > 0 and c["block_memory"] > c["chunk_bytes"]


def test_constraints_and_a_shape_without_data(volbatch):
    p = volbatch("plan", "1000,20000,20000", "--dtype", "uint16", "--max-files", "100000",
                 "--max-files-per-dir", "100", "--window", "64,256,256", "--gpu-memory", "16GiB",
                 "--json")
    cands = json.loads(p.stdout)
    assert cands and all(c["ratio"] == 0 for c in cands)  # nothing to measure
    assert all(c["files"] <= 100000 for c in cands)
    assert any("too many files per directory" in c["problems"] for c in cands)
    assert all(c["gpu_batch"] == 16 * 2**30 // (64 * 256 * 256 * 4 * 32) for c in cands)
    table = volbatch("plan", "1000,20000,20000", "--dtype", "uint16").stdout
    assert table.startswith("| chunks | shards | codec | files |")


def test_bad_plans_fail_in_one_line(volbatch, volume):
    for args, needle in [(("12,x",), "DATASET_OR_SHAPE"),
                         ((volume / "v.zarr/raw", "--chunks", "8,8"), "--chunks"),
                         ((volume / "v.zarr/raw", "--codec", "zstd:99x"), "zstd"),
                         ((volume / "v.zarr/raw", "--gpu-memory", "lots"), "--gpu-memory")]:
        p = volbatch("plan", *args, check=False)
        assert p.returncode == 1 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, \
            (args, p.stderr)
