"""volbatch writes N5, Zarr v2 and sharded Zarr v3 to S3 and reads what others wrote there:
boto3 moves the objects, zarr-python reads and writes the local copies, bytes compared."""
import numpy as np
import pytest
import zarr

import engine_util as eu
import remote_util as ru


@pytest.mark.parametrize("fmt,container", [("n5", "v.n5"), ("zarr2", "v.zarr"),
                                           ("zarr3", "v.zarr")])
def test_copy_to_s3_and_back_is_exact(volbatch, s3, bucket, tmp_path, fmt, container):
    a = eu.em_volume((40, 50, 60), seed=3)
    src = eu.write_zarr2(a, tmp_path / "src.zarr" / "raw", chunks=(16, 16, 16))
    url = f"s3://{bucket}/lab/{container}/raw"
    args = ["copy", src, url, "--format", fmt]
    if fmt == "zarr3":
        args += ["--shards", "32,32,32"]
    volbatch(*args)
    # What is on the server is a complete array another tool reads.
    local = tmp_path / "down" / container
    ru.download_tree(s3.client(), bucket, f"lab/{container}", str(local))
    if fmt == "zarr2":
        np.testing.assert_array_equal(zarr.open_array(str(local / "raw"), mode="r")[...], a)
    # And volbatch reads it back exactly.
    back = tmp_path / "back.zarr" / "raw"
    volbatch("copy", url, back, "--format", "zarr2")
    np.testing.assert_array_equal(eu.read_zarr2(back), a)
    info = volbatch("info", url).stdout
    assert f"path:        {url}" in info and " objects (" in info


def test_reads_what_boto3_uploaded_from_zarr_python(volbatch, s3, bucket, tmp_path):
    a = eu.em_volume((33, 47, 20), seed=5)
    eu.write_zarr2(a, tmp_path / "up.zarr" / "raw", chunks=(10, 16, 8))
    ru.upload_tree(s3.client(), str(tmp_path / "up.zarr"), bucket, "shared/up.zarr")
    out = tmp_path / "out.zarr" / "raw"
    volbatch("copy", f"s3://{bucket}/shared/up.zarr/raw", out, "--format", "zarr2")
    np.testing.assert_array_equal(eu.read_zarr2(out), a)
