"""Helpers shared by the interop tests: test data, exact comparison, and the two programs the
tests drive (the volbatch binary and the zarrita peer, a node script)."""
import json
import os
import subprocess
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

ALL_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64"]
N5_DTYPES = [t for t in ALL_DTYPES if t not in ("bool", "float16")]
V3_DTYPES = [t for t in ALL_DTYPES if t != "float16"]  # zarrita has no float16 on node 20

# Odd shapes whose chunks leave partial edge chunks along every axis.
SHAPES = {
    1: ((37,), (8,)),
    2: ((19, 23), (6, 7)),
    3: ((11, 13, 9), (4, 5, 4)),
    4: ((5, 7, 6, 9), (2, 3, 4, 4)),
    5: ((3, 5, 4, 6, 7), (2, 2, 3, 4, 3)),
}


def seed_of(name):
    return zlib.crc32(name.encode())


def make_data(dtype, shape, seed):
    """Random values over the type's whole range; floats include NaN, +-inf, -0.0 and
    subnormals, so a codec or byte-order slip cannot hide."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    a = (rng.standard_normal(size=shape) * 1000).astype(dt)
    flat = a.reshape(-1)
    if flat.size >= 8:
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).tiny / 4,
                             np.finfo(dt).max, np.finfo(dt).min], dtype=dt)
        where = rng.choice(flat.size, size=len(specials), replace=False)
        flat[where] = specials
    return a


def native(a):
    a = np.asarray(a)
    return np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False))


def assert_same(actual, expected, what=""):
    """Exact equality: same shape, same dtype (byte order aside), same bits; NaNs compare
    equal to NaNs whatever their payload."""
    actual, expected = native(actual), native(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if actual.dtype.kind == "f":
        nan_a, nan_e = np.isnan(actual), np.isnan(expected)
        bits = np.dtype(f"u{actual.dtype.itemsize}")
        same = (actual.view(bits) == expected.view(bits)) | (nan_a & nan_e)
    else:
        same = actual == expected
    if not np.all(same):
        bad = np.argwhere(~same)
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(f"{what}: {len(bad)} of {same.size} elements differ; first at "
                             f"{first}: got {actual[first]!r}, expected {expected[first]!r}")


def fill_json(value):
    """A fill value the way Zarr v3 JSON and the volbatch CLI spell it."""
    if isinstance(value, float):
        if np.isnan(value):
            return "NaN"
        if np.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


class Volbatch:
    def __init__(self, path):
        self.path = path

    def run(self, *args, timeout=120):
        cmd = [self.path, *map(str, args)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited {p.returncode}: "
                                 f"{(p.stderr or p.stdout).strip()}")
        return p.stdout

    def info(self, dataset):
        return json.loads(self.run("info", dataset, "--json"))

    def read(self, dataset, out_npy, roi=None):
        """The whole dataset (or `roi`, "a:b,c:d") through `volbatch export` to .npy."""
        if os.path.exists(out_npy):
            os.remove(out_npy)
        args = ["export", dataset, out_npy]
        if roi:
            args += ["--roi", roi]
        self.run(*args)
        return np.load(out_npy)

    def write(self, npy, dataset, chunks, codec=None, shards=None, fmt=None, fill=None):
        """`volbatch import npy dataset` with the given options."""
        args = ["import", npy, dataset, "--chunks", ",".join(map(str, chunks))]
        if codec is not None:
            args += ["--codec", codec]
        if shards is not None:
            args += ["--shards", ",".join(map(str, shards))]
        if fmt is not None:
            args += ["--format", fmt]
        if fill is not None:
            v = fill_json(fill)
            args += ["--fill-value", v if isinstance(v, str) else json.dumps(v)]
        self.run(*args)


class Zarrita:
    """Runs a batch of zarrita jobs in one node process (see zarrita_peer.mjs)."""

    def __init__(self, node):
        self.node = node

    def run(self, jobs, workdir):
        if not jobs:
            return []
        jobs_file = os.path.join(workdir, "zarrita_jobs.json")
        with open(jobs_file, "w") as f:
            json.dump(jobs, f)
        p = subprocess.run([self.node, os.path.join(HERE, "zarrita_peer.mjs"), jobs_file],
                           capture_output=True, text=True, timeout=600, cwd=HERE)
        if p.returncode != 0:
            raise AssertionError(f"zarrita peer failed: {p.stderr.strip()}")
        with open(jobs_file + ".out") as f:
            return json.load(f)


def roi_of(shape):
    """An interior region (a:b per axis) that cuts chunks, and its slices."""
    parts, slices = [], []
    for n in shape:
        a, b = n // 3, max(n // 3 + 1, n - n // 4)
        parts.append(f"{a}:{b}")
        slices.append(slice(a, b))
    return ",".join(parts), tuple(slices)


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as Zarr v3's crc32c codec stores it; zarrita does not check it,
    so the suite does."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def check_crc32c_tail(blob, what):
    assert len(blob) >= 4, f"{what}: {len(blob)} bytes cannot hold a crc32c"
    want = int.from_bytes(blob[-4:], "little")
    got = crc32c(blob[:-4])
    assert got == want, f"{what}: crc32c {got:#010x}, stored {want:#010x}"
