"""`volbatch pyramid`: every level equals a numpy reference (block mean rounded half to even,
block mode with ties to the smallest value, ragged edges reduced over the voxels inside), the
multiscales metadata follows the OME-NGFF rules (0.4 in Zarr v2, 0.5 in Zarr v3) and the N5
scale attributes BigDataViewer reads, and the peers open every level: zarr-python (Zarr v2,
N5Store) and zarrita (Zarr v3)."""
import json
import math
import os

import numpy as np
import pytest
import zarr

import interop_util as iu


def reduce_mean(a, f):
    """Mean over groups of f voxels per axis (the part inside the volume at the far edge),
    rounded half to even, in a's dtype: what the engine's downsample + cast write."""
    out_shape = tuple(math.ceil(n / k) for n, k in zip(a.shape, f))
    out = np.empty(out_shape, np.float64)
    for idx in np.ndindex(*out_shape):
        sl = tuple(slice(i * k, min((i + 1) * k, n)) for i, k, n in zip(idx, f, a.shape))
        out[idx] = a[sl].astype(np.float64).mean()
    return np.rint(out).astype(a.dtype)


def reduce_mode(a, f):
    out_shape = tuple(math.ceil(n / k) for n, k in zip(a.shape, f))
    out = np.empty(out_shape, a.dtype)
    for idx in np.ndindex(*out_shape):
        sl = tuple(slice(i * k, min((i + 1) * k, n)) for i, k, n in zip(idx, f, a.shape))
        values, counts = np.unique(a[sl], return_counts=True)
        out[idx] = values[np.argmax(counts)]  # unique is sorted: ties go to the smallest
    return out


def check_ngff(multiscales, name, level_shapes, voxel, factors, ndim, version=None):
    """The NGFF rules a viewer relies on, checked against the level shapes we know."""
    assert isinstance(multiscales, list)
    entry = [m for m in multiscales if m.get("name") == name]
    assert len(entry) == 1, multiscales
    m = entry[0]
    if version:
        assert m["version"] == version
    axes = m["axes"]
    assert len(axes) == ndim and len({a["name"] for a in axes}) == ndim
    space = [a for a in axes if a["type"] == "space"]
    assert 2 <= len(space) <= 3 and all(a["unit"] == "nanometer" for a in space)
    assert [a["name"] for a in space] == ["z", "y", "x"][3 - len(space):]
    assert axes[-len(space):] == space  # space axes last, in zyx order
    datasets = m["datasets"]
    assert len(datasets) == len(level_shapes)
    total = [1] * len(voxel)
    for k, d in enumerate(datasets):
        t = d["coordinateTransformations"]
        assert [x["type"] for x in t] == ["scale", "translation"]
        scale, translation = t[0]["scale"], t[1]["translation"]
        assert len(scale) == ndim and len(translation) == ndim
        if k > 0:
            total = [a * b for a, b in zip(total, factors[k - 1])]
        want = [v * f for v, f in zip(voxel, total)]
        assert scale[-len(voxel):] == pytest.approx(want)
        assert translation[-len(voxel):] == pytest.approx([(w - v) / 2 for w, v in zip(want, voxel)])
        # Scales grow with the level; each level covers the same physical extent (ceil).
        ext0 = [n * v for n, v in zip(level_shapes[0][-len(voxel):], voxel)]
        extk = [n * s for n, s in zip(level_shapes[k][-len(voxel):], want)]
        assert all(e >= e0 and e - e0 < s for e, e0, s in zip(extk, ext0, want))
    return [d["path"] for d in datasets]


def test_zarr2_mean_levels_equal_numpy_and_ngff_04(volbatch, tmp_path):
    rng = np.random.default_rng(5)
    g = zarr.open_group(str(tmp_path / "v.zarr"), mode="w")
    data = rng.integers(0, 256, (13, 70, 66), dtype=np.uint8)
    g.create_dataset("raw", data=data, chunks=(8, 32, 32))
    out = volbatch.run("pyramid", tmp_path / "v.zarr/raw", "--levels", "3",
                       "--voxel-size", "8,4,4", "--quiet")
    assert "raw_s3" in out and "metadata:" in out
    # 8 x 4 x 4 nm: y/x first, then all three (8 = 8), then all three again.
    factors = [(1, 2, 2), (2, 2, 2), (2, 2, 2)]
    levels = [data]
    for f in factors:
        levels.append(reduce_mean(levels[-1], f))
    attrs = json.loads((tmp_path / "v.zarr/.zattrs").read_text())
    paths = check_ngff(attrs["multiscales"], "raw", [a.shape for a in levels], [8, 4, 4],
                       factors, 3, version="0.4")
    assert paths == ["raw", "raw_s1", "raw_s2", "raw_s3"]
    g = zarr.open_group(str(tmp_path / "v.zarr"), mode="r")
    for p, want in zip(paths, levels):
        got = g[p][...]
        assert got.dtype == want.dtype and got.shape == want.shape, p
        np.testing.assert_array_equal(got, want, err_msg=p)


def test_zarr2_labels_mode_and_channels(volbatch, tmp_path):
    rng = np.random.default_rng(6)
    g = zarr.open_group(str(tmp_path / "l.zarr"), mode="w")
    labels = (rng.integers(0, 4, (2, 9, 20, 20)) * 1000).astype(np.uint32)  # c, z, y, x
    g.create_dataset("0", data=labels, chunks=(2, 8, 16, 16))
    volbatch.run("pyramid", tmp_path / "l.zarr/0", "--levels", "2", "--method", "mode", "--quiet")
    attrs = json.loads((tmp_path / "l.zarr/.zattrs").read_text())
    m = attrs["multiscales"][0]
    assert [a["type"] for a in m["axes"]] == ["channel", "space", "space", "space"]
    assert [d["path"] for d in m["datasets"]] == ["0", "1", "2"]
    assert m["datasets"][2]["coordinateTransformations"][0]["scale"] == [1, 4, 4, 4]
    want = labels
    g = zarr.open_group(str(tmp_path / "l.zarr"), mode="r")
    for p in ["1", "2"]:
        want = np.stack([reduce_mode(c, (2, 2, 2)) for c in want])
        np.testing.assert_array_equal(g[p][...], want, err_msg=p)


def test_zarr3_levels_ngff_05_and_zarrita_reads_them(volbatch, zarrita, tmp_path):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 60000, (20, 40, 24), dtype=np.uint16)
    np.save(tmp_path / "in.npy", data)
    volbatch.run("import", tmp_path / "in.npy", tmp_path / "w.zarr/em/s0", "--format", "zarr3",
                 "--chunks", "8,16,16", "--codec", "blosc:zstd:3:shuffle")
    volbatch.run("pyramid", tmp_path / "w.zarr/em/s0", "--levels", "2", "--quiet")
    doc = json.loads((tmp_path / "w.zarr/em/zarr.json").read_text())
    assert doc["node_type"] == "group"
    ome = doc["attributes"]["ome"]
    assert ome["version"] == "0.5"
    factors = [(2, 2, 2), (2, 2, 2)]
    levels = [data]
    for f in factors:
        levels.append(reduce_mean(levels[-1], f))
    paths = check_ngff(ome["multiscales"], "s0", [a.shape for a in levels], [1, 1, 1], factors, 3)
    assert paths == ["s0", "s1", "s2"]
    jobs = [{"op": "read", "path": str(tmp_path / "w.zarr/em" / p), "out": str(tmp_path / f"{p}.bin")}
            for p in paths]
    results = zarrita.run(jobs, str(tmp_path))
    for p, want, r in zip(paths, levels, results):
        assert r.get("error") is None, r
        got = np.fromfile(tmp_path / f"{p}.bin", dtype="<u2").reshape(want.shape)
        np.testing.assert_array_equal(got, want, err_msg=p)


def test_n5_levels_have_bdv_scales(volbatch, tmp_path):
    rng = np.random.default_rng(8)
    data = rng.integers(0, 256, (10, 33, 40), dtype=np.uint8)
    store = zarr.N5Store(str(tmp_path / "d.n5"))
    g = zarr.open_group(store, mode="w")
    g.create_dataset("raw/s0", data=data, chunks=(8, 16, 16))
    volbatch.run("pyramid", tmp_path / "d.n5/raw/s0", "--levels", "2", "--voxel-size",
                 "30,10,10", "--quiet")
    group = json.loads((tmp_path / "d.n5/raw/attributes.json").read_text())
    # x, y, z order: y/x halve first (10 < 30), then again (20 < 30).
    assert group["scales"] == [[1, 1, 1], [2, 2, 1], [4, 4, 1]]
    assert group["resolution"] == [10, 10, 30] and group["multiScale"] is True
    for k, f in enumerate(group["scales"]):
        attrs = json.loads((tmp_path / f"d.n5/raw/s{k}/attributes.json").read_text())
        assert attrs["downsamplingFactors"] == f
        assert "dimensions" in attrs  # the dataset's own keys are kept
    want = data
    g = zarr.open_group(zarr.N5Store(str(tmp_path / "d.n5")), mode="r")
    for p in ["raw/s1", "raw/s2"]:
        want = reduce_mean(want, (1, 2, 2))
        np.testing.assert_array_equal(g[p][...], want, err_msg=p)


def test_bad_pyramids_fail_in_one_line(volbatch, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((8, 8, 8), np.uint8))
    volbatch.run("import", tmp_path / "in.npy", tmp_path / "top.zarr", "--format", "zarr2")
    for args, needle in [
        ((tmp_path / "top.zarr", "--levels", "1"), "is not one"),
        ((tmp_path / "missing.zarr/raw", "--levels", "1"), "missing.zarr/raw"),
        ((tmp_path / "top.zarr", "--levels", "0"), "levels must be 1 to 30"),
        ((tmp_path / "top.zarr", "--levels", "1", "--method", "max"), "method"),
        ((tmp_path / "top.zarr", "--levels", "1", "--voxel-size", "1,2"), "--voxel-size"),
    ]:
        with pytest.raises(AssertionError) as e:
            volbatch.run("pyramid", *args)
        msg = str(e.value)
        assert "exited 1" in msg and needle in msg, msg


def test_job_output_pyramid(volbatch, tmp_path):
    rng = np.random.default_rng(9)
    data = rng.integers(0, 256, (16, 40, 40), dtype=np.uint8)
    g = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    g.create_dataset("raw", data=data, chunks=(8, 16, 16))
    job = tmp_path / "job.toml"
    job.write_text('[input]\npath = "in.zarr/raw"\n'
                   '[output]\npath = "out.zarr/copy"\nformat = "zarr2"\nchunks = [8, 16, 16]\n'
                   'pyramid = 2\n'
                   '[operator]\ntype = "identity"\n')
    out = volbatch.run("run", job, "--quiet")
    assert "pyramid: 2 levels" in out and ".zattrs" in out, out
    want = data
    g = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    np.testing.assert_array_equal(g["copy"][...], data)
    for p in ["copy_s1", "copy_s2"]:
        want = reduce_mean(want, (2, 2, 2))
        np.testing.assert_array_equal(g[p][...], want, err_msg=p)
    assert [d["path"] for d in g.attrs["multiscales"][0]["datasets"]] == ["copy", "copy_s1",
                                                                        "copy_s2"]
    # Running the finished job again redoes nothing and keeps the same levels.
    volbatch.run("run", job, "--quiet")
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "out.zarr/copy_s2"))[...], want)
    job.write_text(job.read_text().replace("pyramid = 2", "pyramid = -1"))
    with pytest.raises(AssertionError) as e:
        volbatch.run("run", job)
    assert "[output] pyramid" in str(e.value) and "exited 1" in str(e.value)


@pytest.mark.parametrize("fmt", ["zarr2", "n5", "zarr3"])
def test_job_blocks_write_levels_as_they_finish_the_rest_is_a_pass(volbatch, zarrita, tmp_path,
                                                                   fmt):
    """A 16x32x32 block over 8^3 chunks with 8x4x4 voxels: level 1 (1,2,2) and level 2 (2,2,2)
    of a block are whole chunks, so the blocks write them; level 3 (4,8,8 in total) is not, so
    a pass writes it and level 4 from the stored levels. Labels reduce by mode; every level
    equals the numpy reference, ragged edges included, and zarr-python (or zarrita) reads it."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 5, (21, 70, 50), dtype=np.uint16) * 7
    g = zarr.open_group(str(tmp_path / "in.zarr"), mode="w")
    g.create_dataset("labels", data=labels, chunks=(8, 32, 32))
    shards = 'shards = [16, 32, 32]\n' if fmt == "zarr3" else ""
    job = tmp_path / "job.toml"
    out = {"zarr2": "out.zarr/seg", "n5": "out.n5/seg", "zarr3": "out.zarr/seg"}[fmt]
    job.write_text('[input]\npath = "in.zarr/labels"\n'
                   f'[output]\npath = "{out}"\nformat = "{fmt}"\nchunks = [8, 8, 8]\n{shards}'
                   'pyramid = 4\npyramid_method = "mode"\nvoxel_size = [8, 4, 4]\n'
                   '[operator]\ntype = "identity"\n[tiling]\nblock = [16, 32, 32]\n')
    text = volbatch.run("run", job, "--quiet")
    assert "pyramid: 4 levels" in text and "(2 written as blocks finished)" in text, text
    group = tmp_path / out.split("/")[0]
    assert not (group / ".volbatch-pyramid/seg_s1").exists()
    assert not (group / ".volbatch-pyramid/seg_s2").exists()
    assert (group / ".volbatch-pyramid/seg_s3").is_dir()
    factors = [(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    want = [labels]
    for f in factors:
        want.append(reduce_mode(want[-1], f))
    names = ["seg", "seg_s1", "seg_s2", "seg_s3", "seg_s4"]
    if fmt == "zarr3":
        ome = json.loads((group / "zarr.json").read_text())["attributes"]["ome"]
        check_ngff(ome["multiscales"], "seg", [a.shape for a in want], [8, 4, 4], factors, 3)
        jobs = [{"op": "read", "path": str(group / n), "out": str(tmp_path / f"{n}.bin")}
                for n in names]
        for n, w, res in zip(names, want, zarrita.run(jobs, str(tmp_path))):
            assert res.get("error") is None, res
            got = np.fromfile(tmp_path / f"{n}.bin", dtype="<u2").reshape(w.shape)
            np.testing.assert_array_equal(got, w, err_msg=n)
        return
    if fmt == "n5":
        r = zarr.open_group(zarr.N5Store(str(group)), mode="r")
        assert json.loads((group / "attributes.json").read_text())["scales"] == [
            [1, 1, 1], [2, 2, 1], [4, 4, 2], [8, 8, 4], [16, 16, 8]]
    else:
        r = zarr.open_group(str(group), mode="r")
        check_ngff(r.attrs["multiscales"], "seg", [a.shape for a in want], [8, 4, 4], factors, 3,
                   version="0.4")
    for n, w in zip(names, want):
        np.testing.assert_array_equal(r[n][...], w, err_msg=n)
