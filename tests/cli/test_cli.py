"""The command line contract: outputs, exit codes and one-line errors naming what is wrong."""
import json
import os

import numpy as np
import pytest


def em_like(shape, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.add.outer(np.arange(shape[0]), np.arange(shape[1])), np.arange(shape[2]))
    return ((base % 50) * 3 + rng.integers(0, 20, shape)).astype(dtype)


@pytest.mark.parametrize("fmt,codec", [("n5", "gzip:1"), ("zarr2", "zstd:3"), ("zarr3", "blosc:lz4:5:shuffle")])
def test_import_export_round_trip_with_roi(volbatch, tmp_path, fmt, codec):
    a = em_like((37, 45, 53))
    np.save(tmp_path / "a.npy", a)
    dst = tmp_path / ("v.n5" if fmt == "n5" else "v.zarr") / "raw"
    volbatch("import", tmp_path / "a.npy", dst, "--chunks", "16,16,16", "--codec", codec, "--format", fmt)
    volbatch("export", dst, tmp_path / "all.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "all.npy"), a)
    volbatch("export", dst, tmp_path / "roi.npy", "--roi", "3:20,:,-10:")
    np.testing.assert_array_equal(np.load(tmp_path / "roi.npy"), a[3:20, :, -10:])
    info = json.loads(volbatch("info", dst, "--json").stdout)
    assert info["format"] == fmt
    assert info["shape"] == [37, 45, 53]
    assert info["chunks"] == [16, 16, 16]
    assert info["dtype"] == "uint8"
    text = volbatch("info", dst).stdout
    assert "shape:" in text and "[37,45,53]" in text.replace(" ", "")


def test_copy_to_sharded_zarr3_and_back_to_n5(volbatch, tmp_path):
    a = em_like((40, 70, 33), dtype=np.uint16)
    np.save(tmp_path / "a.npy", a)
    volbatch("import", tmp_path / "a.npy", tmp_path / "a.n5/raw", "--chunks", "8,16,16", "--codec", "zstd:1")
    volbatch("copy", tmp_path / "a.n5/raw", tmp_path / "b.zarr/raw", "--chunks", "8,16,16",
             "--shards", "16,32,32", "--codec", "zstd:3+crc32c")
    info = json.loads(volbatch("info", tmp_path / "b.zarr/raw", "--json").stdout)
    assert info["shards"] == [16, 32, 32]
    volbatch("copy", tmp_path / "b.zarr/raw", tmp_path / "c.n5/raw")
    volbatch("export", tmp_path / "c.n5/raw", tmp_path / "c.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), a)


def test_create_then_info(volbatch, tmp_path):
    volbatch("create", tmp_path / "e.zarr/x", "--shape", "10,20,30", "--chunks", "5,5,5", "--dtype",
             "float32", "--fill-value", "NaN")
    volbatch("export", tmp_path / "e.zarr/x", tmp_path / "e.npy")
    e = np.load(tmp_path / "e.npy")
    assert e.dtype == np.float32 and e.shape == (10, 20, 30) and np.isnan(e).all()


def one_line_error(p, *needles):
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_copy_refuses_to_overwrite(volbatch, tmp_path):
    np.save(tmp_path / "a.npy", em_like((8, 8, 8)))
    volbatch("import", tmp_path / "a.npy", tmp_path / "a.zarr/raw")
    np.save(tmp_path / "b.npy", em_like((8, 8, 8), seed=1))
    p = volbatch("import", tmp_path / "b.npy", tmp_path / "a.zarr/raw", check=False)
    one_line_error(p, "exists", "--overwrite")
    volbatch("export", tmp_path / "a.zarr/raw", tmp_path / "out.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), em_like((8, 8, 8)))
    p = volbatch("export", tmp_path / "a.zarr/raw", tmp_path / "out.npy", check=False)
    one_line_error(p, "out.npy", "exists")
    volbatch("import", tmp_path / "b.npy", tmp_path / "a.zarr/raw", "--overwrite")


def test_errors_name_what_is_wrong(volbatch, tmp_path):
    one_line_error(volbatch("info", tmp_path / "missing.zarr", check=False), "missing.zarr")
    np.save(tmp_path / "a.npy", em_like((8, 8, 8)))
    one_line_error(volbatch("import", tmp_path / "a.npy", tmp_path / "x.zarr/a", "--codec", "zstd:banana",
                            check=False), "zstd:banana")
    one_line_error(volbatch("import", tmp_path / "a.npy", tmp_path / "x.zarr/a", "--chunks", "4,4",
                            check=False), "--chunks")
    volbatch("import", tmp_path / "a.npy", tmp_path / "x.zarr/a", "--chunks", "4,4,4", "--codec", "raw")
    one_line_error(volbatch("export", tmp_path / "x.zarr/a", tmp_path / "r.npy", "--roi", "0:9,:,:",
                            check=False), "--roi")
    # A corrupt chunk is named by its key.
    meta = json.load(open(tmp_path / "x.zarr/a/zarr.json"))
    chunk = tmp_path / "x.zarr/a/c/0/1/0"
    assert chunk.exists(), sorted(os.listdir(tmp_path / "x.zarr/a/c/0"))
    chunk.write_bytes(chunk.read_bytes()[:10])
    one_line_error(volbatch("export", tmp_path / "x.zarr/a", tmp_path / "r.npy", check=False), "c/0/1/0")
    assert not (tmp_path / "r.npy").exists()
    # A metadata field of the wrong type is named.
    meta["shape"] = "big"
    (tmp_path / "x.zarr/a/zarr.json").write_text(json.dumps(meta))
    one_line_error(volbatch("info", tmp_path / "x.zarr/a", check=False), "shape", "zarr.json")
    # Unknown flags are usage errors (exit 2).
    assert volbatch("info", tmp_path, "--bogus", check=False).returncode == 2


def test_tiff_stack_and_slice_folder_import_export(volbatch, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    a = em_like((9, 20, 31), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", a)
    (tmp_path / "slices").mkdir()
    for z in range(a.shape[0]):
        tifffile.imwrite(tmp_path / "slices" / f"s{z}.tif", a[z])
    volbatch("import", tmp_path / "stack.tif", tmp_path / "t.zarr/a", "--chunks", "4,8,8")
    volbatch("import", tmp_path / "slices", tmp_path / "t.n5/b", "--chunks", "4,8,8")
    volbatch("export", tmp_path / "t.zarr/a", tmp_path / "a.tif")
    volbatch("export", tmp_path / "t.n5/b", tmp_path / "b.raw")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a.tif"), a)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "b.raw", dtype=np.uint16).reshape(a.shape), a)
