"""volbatch.WindowSampler and volbatch.torch.WindowDataset: random training windows.

Checked against zarr-python slices of the same arrays: windows equal the direct slices at the
positions the sampler reports (two aligned sources at different scales, Zarr v2 and N5); the
recorded augmentation reproduces each window with np.flip / np.rot90; the foreground rule's
acceptance and the class balance match their definitions; windows are a function of the seed;
a torch DataLoader with 2 workers yields each window once, in the single process's order.
"""
import os

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
torch = pytest.importorskip("torch")
import volbatch  # noqa: E402
from volbatch.torch import WindowDataset  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHAPE = (40, 96, 96)
# Class 1: a few mid-sized cubes (~3%); class 2: small cubes (~0.3%); 0 elsewhere.
CUBES = [(1, (8, 20, 20), 8), (1, (20, 60, 30), 8), (1, (12, 40, 70), 6),
         (2, (10, 70, 60), 3), (2, (28, 30, 40), 3)]


def _labels():
    lab = np.zeros(SHAPE, np.uint32)
    for c, (z, y, x), s in CUBES:
        lab[z:z + s, y:y + s, x:x + s] = c
    return lab


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("sampler")
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    za = zarr.open(str(d / "data.zarr" / "raw"), mode="w", shape=SHAPE, chunks=(16, 32, 32),
                   dtype=np.uint8)
    za[:] = raw
    # A half-resolution input in N5 (the low-res input of a super-resolution pair).
    low = rng.integers(0, 60000, (20, 48, 48), dtype=np.uint16)
    g = zarr.group(store=zarr.N5Store(str(d / "data.n5")))
    g.create_dataset("low", data=low, chunks=(8, 16, 16), compressor=zarr.GZip(5))
    zl = zarr.open(str(d / "data.zarr" / "labels"), mode="w", shape=SHAPE, chunks=(16, 32, 32),
                   dtype=np.uint32)
    zl[:] = _labels()
    mask = np.zeros(SHAPE, np.uint8)
    mask[:, :, :40] = 1
    zm = zarr.open(str(d / "data.zarr" / "mask"), mode="w", shape=SHAPE, chunks=(16, 32, 32),
                   dtype=np.uint8)
    zm[:] = mask
    return {"raw": str(d / "data.zarr" / "raw"), "low": str(d / "data.n5" / "low"),
            "labels": str(d / "data.zarr" / "labels"), "mask": str(d / "data.zarr" / "mask"),
            "arrays": {"raw": raw, "low": low, "labels": _labels(), "mask": mask}}


def _sources(data, **raw_opts):
    return [dict({"path": data["raw"], "name": "raw"}, **raw_opts),
            {"path": data["low"], "name": "low", "scale": [0.5, 0.5, 0.5]},
            {"path": data["labels"], "name": "labels", "kind": "label"}]


def test_windows_equal_direct_slices_at_two_scales(data):
    s = volbatch.WindowSampler(_sources(data), (8, 16, 16), seed=1, with_info=True)
    assert s.align == (2, 2, 2)
    assert s.shapes == {"raw": (8, 16, 16), "low": (4, 8, 8), "labels": (8, 16, 16)}
    # The labels arrive as stored (uint32) from the sampler itself.
    assert s.dtypes["labels"] == np.dtype("uint32")
    ref = {"raw": zarr.open(data["raw"], "r"), "labels": zarr.open(data["labels"], "r"),
           "low": zarr.open(zarr.N5Store(os.path.dirname(data["low"])), "r")["low"]}
    for i in range(40):
        w = s.next()
        info = w["info"]
        p = info["position"]
        assert all(v % 2 == 0 for v in p)
        sl = info["slices"]
        assert sl["raw"] == tuple(slice(a, a + n) for a, n in zip(p, (8, 16, 16)))
        assert sl["low"] == tuple(slice(a // 2, a // 2 + n) for a, n in zip(p, (4, 8, 8)))
        for name in ("raw", "low", "labels"):
            np.testing.assert_array_equal(w[name], ref[name][sl[name]], err_msg=name)
    assert len(s.positions) == 40 and s.positions[-1] == tuple(int(v) for v in p)
    assert len(set(s.positions)) > 35


def test_augmentation_is_reported_and_shared_by_aligned_sources(data):
    s = volbatch.WindowSampler(_sources(data, normalize=[0, 255]), (8, 16, 16), seed=2,
                               flip=True, rotate=True, gain_jitter=0.2, offset_jitter=0.1,
                               with_info=True)
    arrays = data["arrays"]
    seen_k, seen_flip = set(), set()
    for i in range(40):
        w = s.next()
        info = w["info"]
        seen_k.add(info["rot90"])
        seen_flip.add(info["flip"])

        def augment(a):
            axes = [ax for ax, f in enumerate(info["flip"]) if f]
            return np.rot90(np.flip(a, axis=axes) if axes else a, info["rot90"], axes=(-2, -1))

        sl = info["slices"]
        expect_raw = augment(arrays["raw"][sl["raw"]]).astype(np.float64) / 255
        expect_raw = expect_raw * info["gain"] + info["offset"]
        assert w["raw"].dtype == np.float32
        np.testing.assert_allclose(w["raw"], expect_raw, atol=1e-5)
        # Same flips and rotation for the other sources; no intensity change to labels and
        # to the (not normalized) low-res image's dtype.
        np.testing.assert_array_equal(w["labels"], augment(arrays["labels"][sl["labels"]]))
        expect_low = augment(arrays["low"][sl["low"]]) * info["gain"] + info["offset"]
        np.testing.assert_allclose(w["low"], expect_low, rtol=1e-6, atol=1e-3)
        assert 0.8 <= info["gain"] <= 1.2 and abs(info["offset"]) <= 0.1
    assert seen_k == {0, 1, 2, 3}
    assert len(seen_flip) > 4


def test_foreground_rule_acceptance(data):
    # mask = 1 for x < 40 of 96; windows 32 wide start at x0 in 0..64 (65 positions); the
    # foreground fraction (40 - x0) / 32 is >= 0.5 iff x0 <= 24: 25 of 65 positions.
    s = volbatch.WindowSampler(
        [{"path": data["raw"], "name": "raw"}, {"path": data["mask"], "kind": "mask"}],
        (8, 16, 32), seed=3, foreground="mask", min_foreground=0.5, with_info=True)
    n, attempts, xs = 400, 0, []
    for _ in range(n):
        w = s.next()
        info = w["info"]
        frac = float(np.mean(w["mask"] > 0))
        assert frac >= 0.5 and abs(frac - info["foreground"]) < 1e-12
        attempts += info["attempts"]
        xs.append(info["position"][2])
    assert max(xs) <= 24
    acceptance = n / attempts
    assert abs(acceptance - 25 / 65) < 0.05, acceptance
    # Accepted starts are uniform over the 25 acceptable ones (each ~16 of 400).
    counts = np.bincount(xs, minlength=25)
    assert counts.min() >= 4 and counts.max() <= 32, counts
    # An impossible rule is an error naming it, not an endless loop or a silent acceptance.
    never = volbatch.WindowSampler(
        [{"path": data["raw"], "name": "raw"}, {"path": data["labels"], "kind": "label"}],
        (8, 16, 16), foreground="labels", min_foreground=0.99, max_tries=10, threads=0)
    with pytest.raises(volbatch.Error, match="min_foreground"):
        never.next()


def test_class_balance(data):
    labels = data["arrays"]["labels"]
    freq = np.bincount(labels.ravel(), minlength=3) / labels.size
    assert freq[0] > 0.9 and freq[2] < 0.005  # very different frequencies
    n = 450
    s = volbatch.WindowSampler([{"path": data["labels"], "kind": "label"}], (8, 16, 16),
                               seed=4, balance="labels", classes=[0, 1, 2], with_info=True)
    drawn, centre = np.zeros(3), np.zeros(3)
    for _ in range(n):
        w = s.next()
        c = w["info"]["label_class"]
        drawn[c] += 1
        assert np.any(w["labels"] == c)  # every window contains its class
        centre[w["labels"][4, 8, 8]] += 1
    # Uniform weights: each class 1/3 of the windows (binomial sd 0.022; tolerance 0.07).
    assert np.all(np.abs(drawn / n - 1 / 3) < 0.07), drawn / n
    # The centre voxel is the drawn voxel (the cubes are away from the edges) except for
    # class 0 windows whose centre happens to fall in a cube: centre frequencies are close.
    assert np.all(np.abs(centre / n - 1 / 3) < 0.1), centre / n
    # Without balancing, class 2 is at the centre of ~0.3% of windows.
    u = volbatch.WindowSampler([{"path": data["labels"], "kind": "label"}], (8, 16, 16), seed=4)
    c2 = sum(int(u.next()["labels"][4, 8, 8] == 2) for _ in range(n))
    assert c2 < n * 0.05
    # Weights: 2:1:1.
    s = volbatch.WindowSampler([{"path": data["labels"], "kind": "label"}], (8, 16, 16),
                               seed=5, balance="labels", classes=[0, 1, 2],
                               class_weights=[2, 1, 1], with_info=True,
                               class_index=s.class_index)
    got = np.bincount([s.next()["info"]["label_class"] for _ in range(400)], minlength=3) / 400
    assert np.all(np.abs(got - [0.5, 0.25, 0.25]) < 0.08), got
    assert s.class_index.counts == [int(v) for v in np.bincount(labels.ravel(), minlength=3)]


def test_determinism_from_the_seed(data):
    opts = dict(flip=True, rotate=True, gain_jitter=0.1)

    def run(seed, threads):
        s = volbatch.WindowSampler(_sources(data, normalize=[0, 255]), (8, 16, 16), seed=seed,
                                   threads=threads, prefetch=3, **opts)
        return [s.next() for _ in range(12)], s.positions

    a, pa = run(7, 0)
    b, pb = run(7, 3)
    assert pa == pb
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    _, pc = run(8, 2)
    assert sum(p == q for p, q in zip(pa, pc)) <= 1
    # window(i) and two interleaved streams give the single stream's windows.
    s = volbatch.WindowSampler(_sources(data, normalize=[0, 255]), (8, 16, 16), seed=7, **opts)
    np.testing.assert_array_equal(s.window(5)["raw"], a[5]["raw"])
    s.set_stream(1, 2)
    for k in range(5):
        np.testing.assert_array_equal(s.next()["labels"], a[1 + 2 * k]["labels"])


def _dataset(data, **kw):
    return WindowDataset([{"path": data["raw"], "name": "raw", "normalize": [0, 255]},
                          {"path": data["labels"], "name": "labels", "kind": "label"}],
                         (8, 16, 16), seed=9, flip=True, with_info=True, **kw)


def test_dataloader_two_workers_single_windows(data):
    ds = _dataset(data, length=40)
    ref = volbatch.WindowSampler(ds._sources, (8, 16, 16), seed=9, flip=True)

    def run():
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        return [(int(w["info"]["index"]), tuple(w["info"]["position"].tolist()), w["raw"],
                 w["labels"]) for w in loader]

    first = run()
    assert [i for i, *_ in first] == list(range(40))  # each window once, in order
    positions = [p for _, p, *_ in first]
    assert len(set(positions)) == 40  # no duplicate windows across the workers
    for i, p, raw, lab in first:
        assert lab.dtype == torch.int64  # uint32 labels as int64 for torch
        expect = ref.window(i)
        np.testing.assert_array_equal(raw.numpy(), expect["raw"])
        np.testing.assert_array_equal(lab.numpy(), expect["labels"].astype(np.int64))
    second = run()
    assert [p for _, p, *_ in second] == positions  # deterministic
    ds.set_epoch(1)
    assert [i for i, *_ in run()] == list(range(40, 80))


def test_dataloader_batches_through_shared_slots(data):
    # Per worker: 2 batches prefetched by the DataLoader + 1 in the loop + 1 being written,
    # and one to spare.
    ds = _dataset(data, length=50, batch_size=4, shared_slots=5)
    assert len(ds) == 13
    ref = volbatch.WindowSampler(ds._sources, (8, 16, 16), seed=9, flip=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    seen = []
    for b in loader:  # each batch dropped before the next: slots are reused
        idx = b["info"]["index"].tolist()
        seen += idx
        assert not b["raw"].is_shared()  # a slot of the worker's arena, not a copy
        for j, i in enumerate(idx):
            np.testing.assert_array_equal(b["labels"][j].numpy(), ref.window(i)["labels"])
    assert seen == list(range(50))  # batches in order, the last one partial
    # Holding every batch: workers run out of slots and fall back to ordinary tensors.
    held = list(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2))
    assert [i for b in held for i in b["info"]["index"].tolist()] == list(range(50))
    assert any(b["raw"].is_shared() for b in held)
    for b in held:
        for j, i in enumerate(b["info"]["index"].tolist()):
            np.testing.assert_array_equal(b["raw"][j].numpy(), ref.window(i)["raw"])


def test_the_default_cache_is_a_share_of_the_available_memory(data):
    with open("/proc/meminfo") as f:
        avail = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable"))
    one, two = volbatch.default_cache_bytes(), volbatch.default_cache_bytes(2)
    assert one >= 64 << 20 and two >= 64 << 20
    if avail > 1 << 30:  # above the 64 MiB floor: a quarter, halved for two workers
        assert 0.8 < one / (avail / 4) < 1.25, (one, avail)
        assert 0.8 < two / (one / 2) < 1.25, (one, two)
    s = volbatch.WindowSampler([data["raw"]], (8, 16, 16))
    assert 0.8 < s.cache_bytes / one < 1.25
    assert volbatch.WindowSampler([data["raw"]], (8, 16, 16), cache_bytes=0).cache_bytes == 0
    ds = WindowDataset([data["raw"]], (8, 16, 16))
    assert 0.8 < ds.sampler(1, 2).cache_bytes / two < 1.25
    assert WindowDataset([data["raw"]], (8, 16, 16), cache_bytes=1 << 20).sampler(
        1, 2).cache_bytes == 1 << 20


def test_errors_name_the_field(data):
    with pytest.raises(ValueError, match="raw"):
        volbatch.WindowSampler([data["raw"]], (80, 16, 16))
    with pytest.raises(ValueError, match="foreground"):
        volbatch.WindowSampler([data["raw"]], (8, 16, 16), foreground="nope")
    with pytest.raises(ValueError, match="scale"):
        volbatch.WindowSampler([{"path": data["raw"], "scale": [1, 0.3, 1]}], (8, 16, 16))
    with pytest.raises(ValueError, match="kind"):
        volbatch.WindowSampler([{"path": data["raw"], "kind": "labelz"}], (8, 16, 16))
    with pytest.raises(volbatch.Error, match="class 7"):
        volbatch.WindowSampler([{"path": data["labels"], "kind": "label"}], (8, 16, 16),
                               balance="labels", classes=[0, 7])
    with pytest.raises(FileNotFoundError):
        volbatch.WindowSampler([data["raw"] + "-missing"], (8, 16, 16))
