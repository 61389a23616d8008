"""DESIGN invariant 3: the output does not depend on how blocks are cut, how many threads run, or
in which order blocks finish. The same job, run with three block shapes, 1 and 2 threads and a
shuffled block order, writes bit-identical files: every chunk file and the metadata, compared
byte for byte (the job directory lives beside the dataset, not in it)."""
import json

import pytest

import engine_util as eu

SHAPE = (70, 90, 110)

# name, operator, output dtype, output chunks, tiling (without block)
JOBS = [
    # exact operator with context: windows copied as they are
    ("gaussian", {"type": "gaussian", "sigma": [1.5, 2.5, 1.0]}, "float32", (32, 32, 32), {}),
    # the non-exact path: overlapping windows that straddle blocks, blended in float32
    ("identity_blend", {"type": "identity"}, "float32", (32, 32, 32),
     {"window": [24, 40, 36], "overlap": [8, 10, 12], "blend": "gaussian"}),
    # a gaussian blended over windows too (exact operator, blend requested)
    ("gaussian_blend", {"type": "gaussian", "sigma": 1.0}, "float32", (32, 32, 32),
     {"window": [20, 28, 44], "overlap": [6, 8, 10], "blend": "linear", "padding": "edge"}),
    # scaled grids: output = input / (1, 2, 2) and input * (1, 2, 3)
    ("downsample", {"type": "downsample", "factor": [1, 2, 2], "method": "mean"}, "float32",
     (16, 16, 16), {}),
    ("upsample", {"type": "upsample", "factor": [1, 2, 3], "method": "linear"}, "float32",
     (32, 32, 32), {"window": [32, 32, 48]}),
]

# block (in multiples of the output chunks), --threads, [run] order and seed
VARIANTS = [
    ((1, 1, 1), 1, "lattice", 0),
    ((2, 1, 3), 2, "lattice", 0),
    ((3, 4, 2), 2, "shuffle", 1),
    ((1, 1, 1), 2, "shuffle", 2),
]


@pytest.fixture(scope="module")
def raw(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("invariance")
    return eu.write_zarr2(eu.em_volume(SHAPE, seed=5), d / "in.zarr/raw")


@pytest.mark.parametrize("name,operator,dtype,chunks,tiling", JOBS, ids=[j[0] for j in JOBS])
def test_output_files_do_not_depend_on_blocks_threads_or_order(volbatch, raw, tmp_path, name,
                                                               operator, dtype, chunks, tiling):
    results, blocks = [], set()
    for i, (mult, threads, order, seed) in enumerate(VARIANTS):
        out = tmp_path / f"v{i}.zarr/o"
        block = [m * c for m, c in zip(mult, chunks)]
        job = eu.write_job(tmp_path / f"v{i}.toml", raw, out, operator, dtype, chunks,
                           tiling={**tiling, "block": block}, run={"order": order, "seed": seed})
        volbatch("run", job, "--threads", threads, "--quiet")
        with open(eu.jobdir_of(out) + "/summary.json") as f:
            s = json.load(f)
        assert s["block"] == block and s["threads"] == threads, s
        assert s["blocks_done"] == s["blocks_total"], s
        blocks.add(s["blocks_total"])
        results.append(eu.dataset_files(out))
    assert len(blocks) == 3, blocks  # three different block grids really ran
    meta = json.loads(results[0]["zarr.json"])
    grid = eu.grid_shape(meta["shape"], meta["chunk_grid"]["configuration"]["chunk_shape"])
    chunk_files = [k for k in results[0] if k.startswith("c/")]
    assert len(chunk_files) == grid[0] * grid[1] * grid[2]  # no chunk is all fill value here
    for i, r in enumerate(results[1:], 1):
        eu.assert_same_files(results[0], r, f"variant {VARIANTS[i]} against {VARIANTS[0]}")
