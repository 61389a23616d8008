"""The Python package's training windows over S3: volbatch.WindowSampler and
volbatch.torch.WindowDataset (in a DataLoader with 2 workers) over datasets on s3:// yield the
windows, positions and augmentations they yield over the same datasets on local disk with the
same seed: raw (Zarr v2), a half-resolution input (N5) and labels with class balancing (whose
per-chunk class index is built from S3 reads)."""
import numpy as np
import pytest
import zarr

import engine_util as eu
import remote_util as ru

torch = pytest.importorskip("torch")
volbatch = pytest.importorskip("volbatch")
from volbatch.torch import WindowDataset  # noqa: E402

SHAPE = (32, 64, 64)
WINDOW = (8, 16, 16)


@pytest.fixture(scope="module")
def sources(s3, tmp_path_factory):
    d = tmp_path_factory.mktemp("sampler")
    rng = np.random.default_rng(4)
    raw = eu.em_volume(SHAPE, seed=4)
    labels = np.zeros(SHAPE, np.uint32)
    labels[4:12, 10:30, 10:30] = 1
    labels[20:24, 40:44, 50:54] = 2
    eu.write_zarr2(raw, d / "data.zarr" / "raw", (16, 32, 32))
    eu.write_zarr2(labels, d / "data.zarr" / "labels", (16, 32, 32))
    g = zarr.group(store=zarr.N5Store(str(d / "data.n5")))
    g.create_dataset("low", data=rng.integers(0, 60000, (16, 32, 32), dtype=np.uint16),
                     chunks=(8, 16, 16), compressor=zarr.GZip(5))
    bucket = s3.bucket("sampler-data")
    ru.upload_tree(s3.client(), str(d / "data.zarr"), bucket, "t/data.zarr")
    ru.upload_tree(s3.client(), str(d / "data.n5"), bucket, "t/data.n5")

    def of(root):
        return [{"path": f"{root}/data.zarr/raw", "name": "raw", "normalize": [0, 255]},
                {"path": f"{root}/data.n5/low", "name": "low", "scale": [0.5, 0.5, 0.5]},
                {"path": f"{root}/data.zarr/labels", "name": "labels", "kind": "label"}]

    return {"local": of(str(d)), "s3": of(f"s3://{bucket}/t")}


def assert_same_window(a, b, what):
    assert sorted(a) == sorted(b), what
    for k in a:
        # info: position, slices, flips, rotation, gain, attempts, class: all equal.
        np.testing.assert_equal(a[k], b[k], err_msg=f"{what}: {k}")


@pytest.mark.parametrize("opts", [dict(flip=True, rotate=True, gain_jitter=0.1),
                                  dict(balance="labels", classes=[0, 1, 2])],
                         ids=["augmented", "balanced"])
def test_sampler_over_s3_yields_the_local_windows(sources, opts):
    def windows(srcs):
        s = volbatch.WindowSampler(srcs, WINDOW, seed=11, threads=2, prefetch=3,
                                   with_info=True, **opts)
        return [s.next() for _ in range(24)], s

    local, _ = windows(sources["local"])
    remote, s = windows(sources["s3"])
    assert s.shapes == {"raw": (8, 16, 16), "low": (4, 8, 8), "labels": (8, 16, 16)}
    for i, (a, b) in enumerate(zip(local, remote)):
        assert_same_window(a, b, f"window {i}")
    # Random access: window(i) over S3 is the i-th window of the stream.
    assert_same_window(s.window(7), local[7], "window(7)")
    if "balance" in opts:  # every class was drawn, so the class index saw the labels on S3
        assert {int(w["info"]["label_class"]) for w in remote} == {0, 1, 2}


def test_window_dataset_with_two_workers_over_s3_equals_local(sources):
    def batches(srcs):
        ds = WindowDataset(srcs, WINDOW, seed=5, length=24, batch_size=4, flip=True,
                           with_info=True)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        return [(b["info"]["index"].tolist(), b["raw"].numpy().copy(), b["low"].numpy().copy(),
                 b["labels"].numpy().copy()) for b in loader]

    local, remote = batches(sources["local"]), batches(sources["s3"])
    assert [i for b in remote for i in b[0]] == list(range(24))
    assert len(local) == len(remote) == 6
    for (ia, *xa), (ib, *xb) in zip(local, remote):
        assert ia == ib
        for x, y in zip(xa, xb):
            np.testing.assert_array_equal(x, y)
