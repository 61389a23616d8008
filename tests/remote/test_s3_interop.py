"""Other tools' datasets on S3 and volbatch's datasets on S3, read by the other tools.

zarr-python writes N5 (zarr.N5Store, full-size edge blocks) and Zarr v2 locally, boto3 uploads
them, and volbatch reads them from s3:// exactly (export of the whole array and of a region to
.npy, and copy to a local dataset). volbatch writes N5, Zarr v2 and sharded Zarr v3 to s3://
(import of a .npy), boto3 downloads them, and zarr-python (N5, v2) or zarrita (sharded v3,
through tests/interop/zarrita_peer.mjs) reads them exactly."""
import os
import shutil
import sys

import numpy as np
import pytest
import zarr

import engine_util as eu
import remote_util as ru

sys.path.insert(0, os.path.join(ru.ROOT, "tests", "interop"))
import interop_util as iu  # noqa: E402

SHAPE = (37, 45, 52)  # edge chunks along every axis
CHUNKS = (16, 16, 16)
ROI = "5:30,17:40,3:50"
ROI_SLICES = (slice(5, 30), slice(17, 40), slice(3, 50))


def peer_volumes():
    """uint8 (EM-like) and float32 with NaN and infinities: a codec slip cannot hide."""
    f = iu.make_data("float32", SHAPE, seed=21)
    return {"uint8": eu.em_volume(SHAPE, seed=20), "float32": f}


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("fmt", ["n5", "zarr2"])
def test_volbatch_reads_what_zarr_python_wrote_and_boto3_uploaded(volbatch, s3, bucket, tmp_path,
                                                                   fmt, dtype):
    a = peer_volumes()[dtype]
    if fmt == "n5":
        container = tmp_path / "peer.n5"
        g = zarr.group(store=zarr.N5Store(str(container)))
        g.create_dataset("raw", data=a, chunks=CHUNKS, compressor=zarr.GZip(5))
        prefix = "peer/peer.n5"
    else:
        container = tmp_path / "peer.zarr"
        eu.write_zarr2(a, container / "raw", CHUNKS)
        prefix = "peer/peer.zarr"
    ru.upload_tree(s3.client(), str(container), bucket, prefix)
    url = f"s3://{bucket}/{prefix}/raw"

    info = eu.json.loads(volbatch("info", url, "--json").stdout)
    assert info["shape"] == list(SHAPE) and info["dtype"] == dtype, info
    whole = tmp_path / "whole.npy"
    volbatch("export", url, whole)
    iu.assert_same(np.load(whole), a, f"export {url}")
    part = tmp_path / "part.npy"
    volbatch("export", url, part, "--roi", ROI)
    iu.assert_same(np.load(part), a[ROI_SLICES], f"export {url} --roi {ROI}")
    local = tmp_path / "back.zarr" / "raw"
    volbatch("copy", url, local, "--format", "zarr2")
    iu.assert_same(eu.read_zarr2(local), a, f"copy {url}")


def zarrita_read(tmp_path, path, dtype, shape):
    node = shutil.which("node")
    assert node, "node is not installed (apt-get install nodejs npm)"
    out = str(tmp_path / "zarrita.bin")
    [result] = iu.Zarrita(node).run([{"op": "read", "path": str(path), "out": out}],
                                    str(tmp_path))
    assert result["ok"], f"zarrita could not read {path}: {result.get('error')}"
    return np.frombuffer(open(out, "rb").read(), dtype=np.dtype(dtype).newbyteorder("<")) \
        .reshape(shape)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("fmt", ["n5", "zarr2", "zarr3-sharded"])
def test_what_volbatch_writes_to_s3_others_read(volbatch, s3, bucket, tmp_path, fmt, dtype):
    a = peer_volumes()[dtype]
    npy = tmp_path / "a.npy"
    np.save(npy, a)
    container = {"n5": "out.n5", "zarr2": "out.zarr", "zarr3-sharded": "out.zarr"}[fmt]
    url = f"s3://{bucket}/lab/{container}/raw"
    args = ["import", npy, url, "--chunks", ",".join(map(str, CHUNKS)), "--codec", "zstd:3"]
    if fmt == "zarr2":
        args += ["--format", "zarr2"]
    elif fmt == "zarr3-sharded":
        args += ["--format", "zarr3", "--shards", "32,32,32"]
    volbatch(*args)

    down = tmp_path / "down" / container
    ru.download_tree(s3.client(), bucket, f"lab/{container}", str(down))
    if fmt == "n5":
        got = zarr.open(zarr.N5Store(str(down)), mode="r")["raw"][...]
    elif fmt == "zarr2":
        got = zarr.open_array(str(down / "raw"), mode="r")[...]
    else:
        meta = eu.json.load(open(down / "raw" / "zarr.json"))
        assert meta["codecs"][0]["name"] == "sharding_indexed", meta["codecs"]
        # Shards of 32^3 over 37x45x52: 2x2x2 objects, no more.
        shards = [k for k in ru.files_under(down / "raw") if k != "zarr.json"]
        assert len(shards) == 8, shards
        got = zarrita_read(tmp_path, down / "raw", dtype, SHAPE)
    iu.assert_same(got, a, f"{fmt} written to {url}, read by the peer")
