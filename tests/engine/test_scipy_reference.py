"""Correctness against references no one here wrote: every built-in window operator, run
block-wise by `volbatch run` over a volume with partial edge chunks and several blocks, equals
scipy.ndimage / numpy applied to the whole volume with the same boundary mode.

Tolerances (stated, not tuned per case):
  gaussian, upsample linear, downsample mean (float32 output): |volbatch - reference| <= 1e-4
      absolute, reference in float32 (gaussian) or float64 (the others), data in 0..255;
  upsample nearest, downsample mode, threshold, identity: exact.
"""
import json
import os

import numpy as np
import pytest
import scipy.ndimage as ndi

import engine_util as eu

SHAPE = (70, 90, 110)  # odd: every axis ends in a partial chunk and a partial block
CHUNKS = (32, 32, 32)
BLOCK = (64, 64, 64)
TOL = 1e-4


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("reference")
    raw = eu.em_volume(SHAPE, seed=1)
    labels = eu.label_volume(SHAPE, seed=2)
    eu.write_zarr2(raw, d / "in.zarr/raw", CHUNKS)
    eu.write_zarr2(labels, d / "in.zarr/labels", CHUNKS)
    return {"dir": d, "raw": raw, "labels": labels}


def run_op(volbatch, data, name, operator, input="raw", dtype=None, chunks=CHUNKS, tiling=None,
           min_blocks=4):
    """Runs `operator` over the input block-wise (2 threads, shuffled order) and returns the
    output volume."""
    d = data["dir"]
    out = d / f"{name}.zarr/o"
    tiling = {"block": list(BLOCK), **(tiling or {})}
    job = eu.write_job(d / f"{name}.toml", d / f"in.zarr/{input}", out, operator, dtype, chunks,
                       tiling=tiling, run={"threads": 2, "order": "shuffle", "seed": 7},
                       format="zarr2")
    volbatch("run", job, "--quiet")
    with open(eu.jobdir_of(out) + "/summary.json") as f:
        summary = json.load(f)
    assert summary["blocks_total"] >= min_blocks, summary  # really block-wise
    assert summary["blocks_done"] == summary["blocks_total"] and summary["blocks_failed"] == 0
    return eu.read_zarr2(out)


def assert_close(got, want, tol=TOL):
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= tol, f"max error {err.max()} at {worst}: {got[worst]} vs {want[worst]}"


# ---- gaussian -------------------------------------------------------------------------------

PADDINGS = [("reflect", "reflect", 0), ("edge", "nearest", 0), ("constant", "constant", 17)]


@pytest.mark.parametrize("padding,mode,cval", PADDINGS)
def test_gaussian_equals_scipy(volbatch, data, padding, mode, cval):
    sigma = [1.5, 2.5, 1.0]  # anisotropic; radii (6, 10, 4)
    got = run_op(volbatch, data, f"gauss_{padding}", {"type": "gaussian", "sigma": sigma},
                 dtype="float32", tiling={"padding": padding, "padding_value": cval})
    assert got.dtype == np.float32
    want = ndi.gaussian_filter(data["raw"].astype(np.float32), sigma, mode=mode, cval=cval,
                               truncate=4.0, output=np.float32)
    assert_close(got, want)


@pytest.mark.parametrize("padding,mode,cval", PADDINGS)
def test_gaussian_on_a_volume_thinner_than_its_radius(volbatch, tmp_path, padding, mode, cval):
    # Axes of 5 and 3 voxels under radii 8 and 6: the virtual padding reflects more than once.
    a = eu.em_volume((5, 40, 3), seed=3)
    eu.write_zarr2(a, tmp_path / "thin.zarr/raw", (8, 16, 16))
    out = tmp_path / "out.zarr/o"
    sigma = [2.0, 1.0, 1.5]
    job = eu.write_job(tmp_path / "j.toml", tmp_path / "thin.zarr/raw", out,
                       {"type": "gaussian", "sigma": sigma}, "float32", (8, 16, 16),
                       tiling={"padding": padding, "padding_value": cval, "block": [8, 16, 16]},
                       format="zarr2")
    volbatch("run", job, "--quiet")
    want = ndi.gaussian_filter(a.astype(np.float32), sigma, mode=mode, cval=cval, truncate=4.0,
                               output=np.float32)
    assert_close(eu.read_zarr2(out), want)


@pytest.mark.parametrize("value", [17.5, 300.0, -5.0])
def test_gaussian_constant_padding_value_not_representable_in_the_input(volbatch, tmp_path, value):
    """padding_value is a number in the job file; on a uint8 input, 17.5, 300 and -5 are not
    uint8 values. Acceptable: the whole-volume result with that constant (scipy cval=value), or
    a one-line error naming [tiling] padding_value. Not acceptable: a silently different
    constant (DESIGN: "no silent clamping")."""
    a = eu.em_volume((20, 24, 28), seed=4)
    eu.write_zarr2(a, tmp_path / "in.zarr/raw", (8, 8, 8))
    out = tmp_path / "out.zarr/o"
    job = eu.write_job(tmp_path / "j.toml", tmp_path / "in.zarr/raw", out,
                       {"type": "gaussian", "sigma": 1.0}, "float32", (8, 8, 8),
                       tiling={"padding": "constant", "padding_value": value, "block": [8, 16, 16]},
                       format="zarr2")
    p = volbatch("run", job, "--quiet", check=False)
    if p.returncode != 0:
        eu.one_line_error(p, "[tiling] padding_value")
        return
    want = ndi.gaussian_filter(a.astype(np.float32), 1.0, mode="constant", cval=value, truncate=4.0,
                               output=np.float32)
    assert_close(eu.read_zarr2(out), want)


# ---- downsample -----------------------------------------------------------------------------

def groups(a, f, fill):
    """a padded with `fill` to whole groups, as (out_z, out_y, out_x, fz*fy*fx)."""
    out = [-(-s // k) for s, k in zip(a.shape, f)]
    p = np.full([o * k for o, k in zip(out, f)], fill, dtype=a.dtype)
    p[:a.shape[0], :a.shape[1], :a.shape[2]] = a
    g = p.reshape(out[0], f[0], out[1], f[1], out[2], f[2]).transpose(0, 2, 4, 1, 3, 5)
    return g.reshape(*out, -1)


def block_mean(a, f):
    """Mean over each f-group; at a ragged far edge, over the voxels inside the volume only."""
    sums = groups(a.astype(np.float64), f, 0.0).sum(-1)
    counts = groups(np.ones(a.shape), f, 0.0).sum(-1)
    return sums / counts


def block_mode(a, f):
    """Most frequent value in each f-group (voxels inside the volume only), ties to the smallest."""
    sentinel = np.iinfo(a.dtype).max
    assert not (a == sentinel).any()
    g = np.sort(groups(a, f, sentinel), axis=-1)
    counts = (g[..., :, None] == g[..., None, :]).sum(-1)
    counts[g == sentinel] = -1
    first_best = np.argmax(counts, axis=-1)  # sorted: the first maximum is the smallest value
    return np.take_along_axis(g, first_best[..., None], -1)[..., 0]


@pytest.mark.parametrize("factor", [[2, 2, 2], [1, 2, 2]])
def test_downsample_mean_equals_numpy_block_mean(volbatch, data, factor):
    got = run_op(volbatch, data, "mean_" + "".join(map(str, factor)),
                 {"type": "downsample", "factor": factor, "method": "mean"}, dtype="float32",
                 chunks=(16, 16, 16), tiling={"block": [16, 32, 32]})
    assert_close(got, block_mean(data["raw"], factor))


@pytest.mark.parametrize("factor", [[2, 2, 2], [1, 2, 2]])
def test_downsample_mode_equals_numpy_block_mode(volbatch, data, factor):
    got = run_op(volbatch, data, "mode_" + "".join(map(str, factor)),
                 {"type": "downsample", "factor": factor, "method": "mode"}, input="labels",
                 chunks=(16, 16, 16), tiling={"block": [16, 32, 32]})
    assert got.dtype == np.uint32
    want = block_mode(data["labels"], factor)
    assert got.shape == want.shape
    assert (got == want).all(), f"{(got != want).sum()} voxels differ"


def test_block_mode_reference_itself():
    # The reference is only as good as its own check: ties go to the smallest value, and the
    # ragged edge counts real voxels only.
    a = np.array([[[3, 1], [1, 3]], [[2, 2], [5, 9]]], dtype=np.uint32)  # counts: 1:2 2:2 3:2
    assert block_mode(a, [2, 2, 2]).ravel().tolist() == [1]
    b = np.array([[[7, 7, 4]]], dtype=np.uint32)
    assert block_mode(b, [1, 1, 2]).ravel().tolist() == [7, 4]
    assert block_mean(np.array([[[1, 2, 6]]]), [1, 1, 2]).ravel().tolist() == [1.5, 6.0]


# ---- upsample -------------------------------------------------------------------------------

# A factor of 3 needs windows whose size and stride are multiples of 3 (the lattice is in output
# space): [32, 32, 48], which also straddles the 64^3 blocks.
UPSAMPLE = [([2, 2, 2], None), ([1, 2, 3], [32, 32, 48])]


@pytest.mark.parametrize("factor,window", UPSAMPLE)
def test_upsample_nearest_equals_repeat(volbatch, data, factor, window):
    got = run_op(volbatch, data, "near_" + "".join(map(str, factor)),
                 {"type": "upsample", "factor": factor, "method": "nearest"},
                 tiling={"window": window})
    want = data["raw"].repeat(factor[0], 0).repeat(factor[1], 1).repeat(factor[2], 2)
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert (got == want).all(), f"{(got != want).sum()} voxels differ"


@pytest.mark.parametrize("factor,window", UPSAMPLE)
@pytest.mark.parametrize("padding", ["reflect", "edge"])
def test_upsample_linear_equals_scipy_zoom(volbatch, data, padding, factor, window):
    got = run_op(volbatch, data, f"lin_{padding}_" + "".join(map(str, factor)),
                 {"type": "upsample", "factor": factor, "method": "linear"}, dtype="float32",
                 tiling={"padding": padding, "window": window})
    want = ndi.zoom(data["raw"].astype(np.float64), factor, order=1, grid_mode=True, mode="nearest")
    assert_close(got, want)


def test_upsample_by_three_without_a_window_runs(volbatch, data):
    """The job names no window, so the engine picks one; it must pick one the scale allows
    (a multiple of 3 on x) rather than refuse the job over "[tiling] window: [32, 32, 64]",
    a value the user never wrote."""
    got = run_op(volbatch, data, "near_default_123",
                 {"type": "upsample", "factor": [1, 2, 3], "method": "nearest"})
    assert (got == data["raw"].repeat(2, 1).repeat(3, 2)).all()


# ---- pointwise ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [127.5, 100])
def test_threshold_equals_numpy(volbatch, data, value):
    got = run_op(volbatch, data, f"thr_{value}", {"type": "threshold", "value": value})
    want = (data["raw"] > value).astype(np.uint8)
    assert got.dtype == np.uint8
    assert (got == want).all(), f"{(got != want).sum()} voxels differ"


@pytest.mark.parametrize("blend", ["gaussian", "linear", "bump", "constant"])
def test_pointwise_operator_blended_over_overlapping_windows_is_the_whole_volume_result(
        volbatch, data, blend):
    # Windows that do not divide the chunks, overlap on every axis, and a lattice whose last
    # window is shifted to the edge: normalized blending of a pointwise result gives it back.
    tiling = {"window": [24, 40, 36], "overlap": [8, 10, 12], "blend": blend}
    got = run_op(volbatch, data, f"blend_{blend}", {"type": "identity"}, dtype="uint8",
                 tiling=tiling)
    assert got.dtype == np.uint8
    assert (got == data["raw"]).all(), f"{(got != data['raw']).sum()} voxels differ"
    got = run_op(volbatch, data, f"blendf_{blend}", {"type": "identity"}, dtype="float32",
                 tiling=tiling)
    assert not np.isnan(got).any()
    assert_close(got, data["raw"].astype(np.float32), tol=1e-4)
