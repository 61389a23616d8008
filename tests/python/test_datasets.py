"""volbatch.open / create / copy and Dataset indexing, against numpy and zarr-python.

Every format (N5, Zarr v2, Zarr v3), ranks 1-4, shapes with partial edge chunks: what volbatch
writes zarr-python reads (N5 through zarr.N5Store, Zarr v2 directly; Zarr v3, which zarr 2.13
cannot read, through `volbatch export` and fresh handles), and what zarr-python writes volbatch
reads. ds[key] equals numpy's a[key] for integers, negative indices, slices with any step,
Ellipsis and None; ds[key] = v equals numpy's assignment. Bad writes raise before a byte
changes; reads release the GIL and hand over the library's buffer without a copy.
"""
import os
import threading
import time

import numcodecs
import numpy as np
import pytest
import zarr

import engine_util as eu
import volbatch

FORMATS = ["n5", "zarr2", "zarr3"]
SHAPES = {1: ((37,), (8,)), 2: ((23, 41), (8, 16)), 3: ((13, 22, 35), (4, 8, 16)),
          4: ((3, 7, 10, 13), (2, 3, 4, 8))}


def path_of(tmp_path, fmt, name="a"):
    return str(tmp_path / ("c.n5" if fmt == "n5" else "c.zarr") / name)


def random_array(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def zarr_read(path, fmt):
    """What zarr-python reads at `path` (N5 and Zarr v2 only)."""
    if fmt == "n5":
        root, name = os.path.split(path)
        return zarr.open_array(store=zarr.N5Store(root), path=name, mode="r")[...]
    return zarr.open_array(path, mode="r")[...]


def assert_same(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# ---- writes and reads agree with numpy and zarr-python ------------------------------------------

@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("fmt", FORMATS)
def test_write_read_round_trip_and_peer(tmp_path, cli, fmt, rank):
    shape, chunks = SHAPES[rank]
    a = random_array(shape, "int16", seed=rank)
    ds = volbatch.create(path_of(tmp_path, fmt), shape=shape, dtype="int16", chunks=chunks,
                         format=fmt, codec="zstd:1" if fmt != "n5" else "gzip:5")
    ds[...] = a
    assert_same(ds[...], a)
    assert_same(volbatch.open(ds.path)[...], a)  # a fresh handle reads the files
    if fmt == "zarr3":
        npy = tmp_path / "export.npy"
        cli("export", ds.path, npy)
        assert_same(np.load(npy), a)
    else:
        assert_same(zarr_read(ds.path, fmt), a)


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("fmt", ["n5", "zarr2"])
def test_reads_what_zarr_python_writes(tmp_path, fmt, rank):
    shape, chunks = SHAPES[rank]
    a = random_array(shape, "uint16", seed=10 + rank)
    path = path_of(tmp_path, fmt)
    if fmt == "n5":
        root, name = os.path.split(path)
        z = zarr.open_array(store=zarr.N5Store(root), path=name, mode="w", shape=shape,
                            chunks=chunks, dtype=a.dtype, compressor=numcodecs.GZip(5))
    else:
        z = zarr.open_array(path, mode="w", shape=shape, chunks=chunks, dtype=a.dtype,
                            compressor=numcodecs.Zstd(1))
    z[...] = a
    ds = volbatch.open(path)
    assert (ds.format, ds.shape, ds.chunks, ds.dtype) == (fmt, shape, chunks, a.dtype)
    assert_same(ds[...], a)
    key = tuple(slice(1, -1) for _ in shape)
    assert_same(ds[key], a[key])


@pytest.mark.parametrize("fmt", ["n5", "zarr2"])
def test_partial_writes_are_what_zarr_python_reads(tmp_path, fmt):
    """Writes that cover chunks partly (read-modify-write) leave the rest of each chunk intact."""
    shape, chunks = (13, 22, 35), (4, 8, 16)
    ref = np.zeros(shape, np.float32)
    ds = volbatch.create(path_of(tmp_path, fmt), shape=shape, dtype=np.float32, chunks=chunks,
                         format=fmt)
    rng = np.random.default_rng(3)
    for _ in range(12):
        lo = [int(rng.integers(0, s)) for s in shape]
        hi = [int(rng.integers(l + 1, s + 1)) for l, s in zip(lo, shape)]
        key = tuple(slice(l, h) for l, h in zip(lo, hi))
        v = rng.standard_normal([h - l for l, h in zip(lo, hi)]).astype(np.float32)
        ds[key] = v
        ref[key] = v
    assert_same(zarr_read(ds.path, fmt), ref)
    assert_same(ds[...], ref)


DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_dtype(tmp_path, fmt, dtype):
    if fmt == "n5" and dtype in ("bool", "float16"):
        pytest.skip("N5 has no bool or float16")
    a = random_array((9, 17), dtype, seed=4)
    ds = volbatch.create(path_of(tmp_path, fmt), data=a, chunks=(4, 8), format=fmt)
    assert ds.dtype == np.dtype(dtype)
    assert_same(ds[...], a)
    if fmt != "zarr3":
        assert_same(zarr_read(ds.path, fmt), a)


# ---- indexing is numpy's --------------------------------------------------------------------

KEYS = [
    (), Ellipsis, 0, -1, 5, (3, 4), (3, 4, 5), (-1, -2, -3), slice(None), slice(2, 9),
    slice(-5, None), slice(None, -3), (slice(1, 12), slice(3, 20), slice(5, 33)),
    (Ellipsis, 7), (2, Ellipsis), (Ellipsis, slice(2, 30)), (1, Ellipsis, -1),
    (slice(None), 3), (slice(0, 0),), (slice(5, 2),), (slice(10, 100), slice(-100, 4)),
    slice(None, None, 2), (slice(1, None, 3), slice(None, None, -1), slice(30, 2, -4)),
    (slice(None, None, -2), 5, slice(3, 4, 7)), (None, 2), (slice(1, 3), None, 4, None),
    (Ellipsis, None), np.int64(4), (np.int32(-2), np.uint8(3)),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_index_like_numpy(tmp_path, fmt):
    a = random_array((13, 22, 35), "uint16", seed=5)
    ds = volbatch.create(path_of(tmp_path, fmt), data=a, chunks=(4, 8, 16), format=fmt)
    for key in KEYS:
        got, want = ds[key], a[key]
        assert type(got) is type(want), (key, type(got), type(want))
        if isinstance(want, np.ndarray):
            assert_same(got, want)
        else:
            assert got == want and got.dtype == want.dtype, key


def test_int_index_returns_numpy_scalar_and_iteration_works(tmp_path):
    a = random_array((4, 5), "float32", seed=6)
    ds = volbatch.create(path_of(tmp_path, "zarr3"), data=a, chunks=(2, 2))
    assert isinstance(ds[1, 2], np.float32) and ds[1, 2] == a[1, 2]
    rows = list(ds)  # the sequence protocol stops at IndexError, like numpy
    assert len(rows) == 4 and all(np.array_equal(r, w) for r, w in zip(rows, a))
    assert_same(np.asarray(ds), a)
    assert_same(np.asarray(ds, dtype=np.float64), a.astype(np.float64))


@pytest.mark.parametrize("fmt", FORMATS)
def test_writes_index_like_numpy(tmp_path, fmt):
    shape = (13, 22, 35)
    ref = random_array(shape, "int32", seed=7)
    ds = volbatch.create(path_of(tmp_path, fmt), data=ref, chunks=(4, 8, 16), format=fmt)
    ref = ref.copy()
    rng = np.random.default_rng(8)
    writes = [
        (5, lambda s: rng.integers(-9, 9, s).astype(np.int32)),
        (-1, lambda s: rng.integers(-9, 9, s).astype(np.int32)),
        ((2, slice(3, 20)), lambda s: rng.integers(-9, 9, s).astype(np.int32)),
        ((slice(1, 4), -3, Ellipsis), lambda s: rng.integers(-9, 9, s).astype(np.int32)),
        ((Ellipsis, 34), lambda s: 7),  # a Python int, broadcast
        ((slice(0, 13), slice(0, 1), slice(0, 35)), lambda s: np.int16(-4)),  # safe cast
        ((slice(6, 9), slice(2, 5)), lambda s: np.arange(35, dtype=np.uint8)),  # broadcast row
        ((None, 3, 4), lambda s: np.arange(35, dtype=np.int32)[None]),
        ((slice(8, 100), slice(-5, None), slice(30, 40)), lambda s: np.full(s, 99, np.int32)),
        ((0, 0, 0), lambda s: -123),
    ]
    for key, make in writes:
        v = make(ref[key].shape)
        ds[key] = v
        ref[key] = v
        assert_same(ds[...], ref)
    if fmt != "zarr3":
        assert_same(zarr_read(ds.path, fmt), ref)


def test_values_without_dtype_must_fit(tmp_path):
    ds = volbatch.create(path_of(tmp_path, "zarr3", "u8"), shape=(4, 4), dtype="uint8",
                         chunks=(2, 2))
    ds[0] = 255
    ds[1] = 3.0  # an integral float fits
    ds[2] = [1, 2, 3, 4]
    for bad in (256, -1, 3.5, float("nan"), [1, 2, 3, 300]):
        with pytest.raises(volbatch.InvalidArgument, match="does not fit a uint8 dataset"):
            ds[3] = bad
    f = volbatch.create(path_of(tmp_path, "zarr3", "f4"), shape=(3,), dtype="float32",
                        chunks=(2,))
    f[...] = 0.1  # Python floats round into a float dataset
    assert_same(f[...], np.full(3, 0.1, np.float32))
    with pytest.raises(volbatch.InvalidArgument, match="does not fit"):
        f[0] = 1e300  # but do not overflow to infinity
    b = volbatch.create(path_of(tmp_path, "zarr3", "b"), shape=(3,), dtype=bool, chunks=(2,))
    b[...] = [True, 0, 1]
    assert_same(b[...], np.array([True, False, True]))


# ---- bad input raises before anything is written ---------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_writes_raise_and_leave_the_files_alone(tmp_path, fmt):
    a = random_array((9, 10, 11), "uint8", seed=9)
    ds = volbatch.create(path_of(tmp_path, fmt), data=a, chunks=(4, 4, 4), format=fmt)
    before = eu.dataset_files(ds.path)
    bad = [
        ((slice(None),), a.astype(np.float64), volbatch.InvalidArgument,
         "cannot write float64 data into a uint8 dataset"),
        ((slice(None),), a.astype(np.int16), volbatch.InvalidArgument,
         "cannot write int16 data into a uint8 dataset"),
        ((slice(0, 4),), np.zeros((4, 10, 12), np.uint8), volbatch.InvalidArgument,
         "shape (4, 10, 12) into a selection of shape (4, 10, 11)"),
        ((0,), np.zeros((1, 10, 11), np.uint8), volbatch.InvalidArgument,
         "into a selection of shape (10, 11)"),
        ((Ellipsis,), np.zeros((2, 9, 10, 11), np.uint8), volbatch.InvalidArgument, "shape"),
        ((Ellipsis,), np.array(["x"]), volbatch.InvalidArgument, "cannot write <U1"),
        ((Ellipsis,), 1000, volbatch.InvalidArgument, "does not fit"),
        ((slice(None, None, 2),), 0, volbatch.Unsupported, "slice step other than 1"),
        ((9,), 0, IndexError, "index 9 is out of bounds for axis 0 with size 9"),
        ((0, 0, 0, 0), 0, IndexError, "too many indices"),
        (([0, 1],), 0, IndexError, "fancy indexing"),
        ((True,), 0, IndexError, "boolean"),
    ]
    for key, value, error, message in bad:
        with pytest.raises(error) as e:
            ds[key] = value
        assert message in str(e.value), (key, str(e.value))
        if isinstance(e.value, volbatch.Error) and error is not volbatch.Unsupported:
            assert ds.path in str(e.value)
    assert isinstance(volbatch.InvalidArgument("x"), ValueError)
    assert isinstance(volbatch.Unsupported("x"), NotImplementedError)
    after = eu.dataset_files(ds.path)
    eu.assert_same_files(before, after, "after refused writes")
    assert_same(ds[...], a)


def test_missing_dataset_is_not_found_naming_the_path(tmp_path):
    missing = str(tmp_path / "nope.zarr" / "x")
    with pytest.raises(volbatch.NotFound) as e:
        volbatch.open(missing)
    assert missing in str(e.value)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, volbatch.Error)
    assert e.value.code == "not found"
    (tmp_path / "empty").mkdir()
    with pytest.raises(volbatch.NotFound, match="not an array"):
        volbatch.open(tmp_path / "empty")


def test_create_refuses_an_existing_array_unless_overwrite(tmp_path):
    p = path_of(tmp_path, "zarr3")
    volbatch.create(p, shape=(4,), dtype="uint8", chunks=(2,))[...] = 7
    with pytest.raises(volbatch.AlreadyExists) as e:
        volbatch.create(p, shape=(4,), dtype="uint8")
    assert isinstance(e.value, FileExistsError) and p in str(e.value)
    ds = volbatch.create(p, shape=(5,), dtype="int8", chunks=(2,), overwrite=True)
    assert_same(ds[...], np.zeros(5, np.int8))
    with pytest.raises(volbatch.InvalidArgument, match="zstd:99|level"):
        volbatch.create(str(tmp_path / "b.zarr" / "x"), shape=(4,), dtype="uint8", codec="zstd:99")
    with pytest.raises(volbatch.InvalidArgument, match="complex128"):
        volbatch.create(str(tmp_path / "c.zarr" / "x"), shape=(4,), dtype=np.complex128)
    with pytest.raises(volbatch.InvalidArgument, match="chunks"):
        volbatch.create(str(tmp_path / "d.zarr" / "x"), shape=(4, 4), dtype="uint8", chunks=(2,))


# ---- metadata ------------------------------------------------------------------------------

def test_properties_attrs_fill_value_and_shards(tmp_path):
    p = path_of(tmp_path, "zarr3", "s")
    ds = volbatch.create(p, shape=(10, 20, 30), dtype="float32", chunks=(5, 5, 5),
                         shards=(10, 10, 10), fill_value=float("nan"), codec="zstd:1",
                         attrs={"resolution": [4, 4, 4], "unit": "nm"})
    assert (ds.shape, ds.chunks, ds.shards, ds.format) == ((10, 20, 30), (5, 5, 5),
                                                          (10, 10, 10), "zarr3")
    assert (ds.ndim, len(ds), ds.size, ds.nbytes) == (3, 10, 6000, 24000)
    assert np.isnan(ds.fill_value) and ds.fill_value.dtype == np.float32
    assert dict(ds.attrs) == {"resolution": [4, 4, 4], "unit": "nm"}
    with pytest.raises(TypeError):
        ds.attrs["unit"] = "um"  # read-only: attributes are written at create
    assert np.isnan(ds[...]).all()  # nothing written: the fill value
    ds[2:7, 3:18, 1:29] = 1.5
    ref = np.full((10, 20, 30), np.nan, np.float32)
    ref[2:7, 3:18, 1:29] = 1.5
    assert_same(volbatch.open(p)[...], ref)
    assert "zstd" in ds.codecs and ds.info()["shards"] == [10, 10, 10]
    assert repr(ds).startswith(f"<volbatch.Dataset '{p}' zarr3 shape=(10, 20, 30)")
    z2 = volbatch.create(path_of(tmp_path, "zarr2", "f"), shape=(3,), dtype="int16",
                         format="zarr2", fill_value=-1)
    assert z2.fill_value == -1 and z2.shards is None
    assert_same(z2[...], np.full(3, -1, np.int16))
    assert zarr.open_array(z2.path, mode="r").fill_value == -1


def test_attrs_written_by_zarr_python_are_visible(tmp_path):
    p = str(tmp_path / "z.zarr" / "a")
    z = zarr.open_array(p, mode="w", shape=(4,), chunks=(2,), dtype="u1")
    z.attrs["offset"] = [1, 2, 3]
    assert volbatch.open(p).attrs["offset"] == [1, 2, 3]


@pytest.mark.parametrize("fmt", FORMATS)
def test_copy_changes_format_chunks_and_codec(tmp_path, fmt):
    a = random_array((20, 30, 40), "uint16", seed=11)
    src = volbatch.create(path_of(tmp_path, "zarr3", "src"), data=a, chunks=(8, 8, 8))
    dst = volbatch.copy(src, path_of(tmp_path, fmt, "dst"), chunks=(5, 16, 16),
                        format=fmt, codec="gzip:1" if fmt == "n5" else "zstd:1")
    assert (dst.format, dst.chunks) == (fmt, (5, 16, 16))
    assert_same(dst[...], a)
    if fmt != "zarr3":
        assert_same(zarr_read(dst.path, fmt), a)
    with pytest.raises(volbatch.AlreadyExists):
        volbatch.copy(src.path, dst.path)


# ---- zero-copy reads, the GIL released -----------------------------------------------------

def test_reads_hand_over_the_library_buffer(tmp_path):
    ds = volbatch.create(path_of(tmp_path, "zarr3"), data=np.arange(1000, dtype=np.uint32),
                         chunks=(64,))
    r = ds[...]
    # Not a copy of a temporary: the array wraps the buffer the library decoded into (a capsule
    # owns it), and it is an ordinary writeable array.
    assert not r.flags.owndata and type(r.base).__name__ == "PyCapsule"
    assert r.flags.c_contiguous and r.flags.writeable
    r[0] = 5
    assert ds[0] == 0 and r[0] == 5


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A volume whose whole read takes a good fraction of a second (decoding 200 MB of zstd)."""
    p = str(tmp_path_factory.mktemp("big") / "big.zarr" / "a")
    ds = volbatch.create(p, shape=(200, 512, 512), dtype="float32", chunks=(32, 128, 128),
                         codec="zstd:1")
    rng = np.random.default_rng(12)
    for z in range(0, 200, 50):
        ds[z:z + 50] = rng.standard_normal((50, 512, 512)).astype(np.float32)
    return ds


def counter_during(call):
    """Runs call() while a Python thread counts; returns (result, counts taken in the middle
    half of the call). With the GIL held for the whole call the counter cannot move there."""
    stamps, stop = [], threading.Event()

    def count():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            for _ in range(200):
                pass
    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    result = call()
    t1 = time.perf_counter()
    stop.set()
    t.join()
    quarter = (t1 - t0) / 4
    middle = [s for s in stamps if t0 + quarter < s < t1 - quarter]
    return result, middle, t1 - t0


def test_the_gil_is_released_during_reads_and_writes(big):
    a, middle, took = counter_during(lambda: big[...])
    assert a.shape == (200, 512, 512)
    assert took > 0.05, f"the read took only {took:.3f} s: too short to show anything"
    # Python switches threads every 5 ms; a held GIL would leave the middle half empty.
    assert len(middle) > 10, (len(middle), took)
    _, middle, took = counter_during(lambda: big.__setitem__(slice(0, 100), a[:100]))
    assert len(middle) > 10, ("write", len(middle), took)


def test_threads_read_concurrently_and_correctly(big):
    want = big[...]
    results = {}

    def read(i):
        results[i] = big[i * 50:(i + 1) * 50]
    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert np.array_equal(results[i], want[i * 50:(i + 1) * 50])
