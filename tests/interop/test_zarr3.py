"""Zarr v3 against zarrita 0.7.5 (npm), both ways.

zarrita writes (bytes little/big, zstd, blosc, transpose; fill values; every dtype but
float16; ranks 1-5) and volbatch reads exactly; volbatch writes (`import` with each codec
SPEC, crc32c chains, and sharded arrays with partial shards) and zarrita reads exactly.
zarrita runs as one node process per direction (see zarrita_peer.mjs), so the peer's work
happens in a session fixture and each case checks its own result.
"""
import json
import os

import numpy as np
import pytest

import interop_util as iu
from interop_util import SHAPES, V3_DTYPES


def bytes_codec(endian="little", dtype=None):
    # zarrita 0.7.5 swaps bool data in 4-byte groups under endian "big" (its bytesPerElement
    # misses BoolArray's element size), writing chunks no other reader decodes; bool has no
    # byte order, so it is written little-endian.
    if dtype == "bool":
        endian = "little"
    return {"name": "bytes", "configuration": {"endian": endian}}


def blosc(cname, shuffle, itemsize):
    return {"name": "blosc", "configuration": {"cname": cname, "clevel": 5, "shuffle": shuffle,
                                               "typesize": itemsize, "blocksize": 0}}


def zstd(level=3, checksum=False):
    return {"name": "zstd", "configuration": {"level": level, "checksum": checksum}}


def transpose(order):
    return {"name": "transpose", "configuration": {"order": list(order)}}


def size(dtype):
    return np.dtype(dtype).itemsize


# name -> f(rank, dtype) -> codecs
CHAINS = {
    "bytes_le": lambda r, t: [bytes_codec("little")],
    "bytes_be": lambda r, t: [bytes_codec("big", t)],
    "zstd": lambda r, t: [bytes_codec(), zstd(3)],
    "be_zstd_checksum": lambda r, t: [bytes_codec("big", t), zstd(1, True)],
    "blosc_lz4_shuffle": lambda r, t: [bytes_codec(), blosc("lz4", "shuffle", size(t))],
    "blosc_zstd_bitshuffle": lambda r, t: [bytes_codec(), blosc("zstd", "bitshuffle", size(t))],
    "blosc_blosclz_noshuffle": lambda r, t: [bytes_codec(), blosc("blosclz", "noshuffle", size(t))],
    "transpose_reversed_zstd": lambda r, t: [transpose(range(r - 1, -1, -1)), bytes_codec(),
                                             zstd(3)],
    "transpose_rotated_be_blosc": lambda r, t: [transpose([*range(1, r), 0]),
                                                bytes_codec("big", t),
                                                blosc("lz4", "shuffle", size(t))],
}
CHAIN_KEYS = list(CHAINS)


class Case:
    def __init__(self, id, dtype, rank, **kw):
        self.id, self.dtype, self.rank = id, dtype, rank
        self.__dict__.update(kw)


def peer_cases():
    cases = []
    for ti, dtype in enumerate(V3_DTYPES):
        for rank in SHAPES:
            chain = CHAIN_KEYS[(ti * 5 + rank) % len(CHAIN_KEYS)]
            cases.append(Case(f"{dtype}-r{rank}-{chain}", dtype, rank, chain=chain, fill=0,
                              region=None))
    for chain in CHAIN_KEYS:
        for dtype, rank in [("uint16", 3), ("float64", 4), ("int8", 2)]:
            cases.append(Case(f"chain-{chain}-{dtype}-r{rank}", dtype, rank, chain=chain, fill=0,
                              region=None))
    fills = [("float32", float("nan")), ("float64", float("inf")), ("float64", float("-inf")),
             ("float32", -0.25), ("int16", -5), ("int64", -123456789), ("uint32", 2**32 - 1),
             ("uint8", 7), ("bool", True)]
    for dtype, fill in fills:
        cases.append(Case(f"fill-{dtype}-{fill}", dtype, 3, chain="zstd", fill=fill,
                          region=(slice(2, 7), slice(0, 11), slice(5, 9))))
    return cases


PEER_CASES = {c.id: c for c in peer_cases()}


def le_bytes(a):
    a = np.ascontiguousarray(a)
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


@pytest.fixture(scope="session")
def zarrita_written(zarrita, tmp_path_factory):
    work = tmp_path_factory.mktemp("zarrita_writes")
    jobs, out = [], {}
    for c in PEER_CASES.values():
        shape, chunks = SHAPES[c.rank]
        data = iu.make_data(c.dtype, shape, iu.seed_of("v3" + c.id))
        region = c.region or tuple(slice(0, n) for n in shape)
        expected = np.full(shape, c.fill, dtype=c.dtype)
        expected[region] = data[region]
        src = work / f"{c.id}.bin"
        src.write_bytes(le_bytes(data[region]))
        path = str(work / f"{c.id}.zarr")
        jobs.append({"op": "write", "path": path, "shape": list(shape), "dtype": c.dtype,
                     "chunk_shape": list(chunks),
                     "codecs": CHAINS[c.chain](c.rank, c.dtype),
                     "fill_value": iu.fill_json(c.fill),
                     "region": [[s.start, s.stop] for s in region], "data": str(src)})
        out[c.id] = (path, expected, chunks)
    results = zarrita.run(jobs, str(work))
    return {cid: (*v, r) for (cid, v), r in zip(out.items(), results)}


@pytest.mark.parametrize("case_id", list(PEER_CASES))
def test_zarrita_writes_volbatch_reads(volbatch, zarrita_written, tmp_path, case_id):
    path, expected, chunks, result = zarrita_written[case_id]
    assert result["ok"], f"zarrita could not write the case: {result.get('error')}"
    got = volbatch.read(path, str(tmp_path / "out.npy"))
    iu.assert_same(got, expected, f"volbatch export {path}")
    info = volbatch.info(path)
    assert info["format"] == "zarr3", info
    assert info["shape"] == list(expected.shape) and info["chunks"] == list(chunks), info
    assert info["dtype"] == expected.dtype.name, info
    if expected.ndim > 1:
        spec, slices = iu.roi_of(expected.shape)
        got = volbatch.read(path, str(tmp_path / "roi.npy"), roi=spec)
        iu.assert_same(got, expected[slices], f"volbatch export {path} --roi {spec}")


# --- volbatch writes, zarrita reads ---------------------------------------------------------

# zarrita reads these bytes->bytes codecs; it has no bz2 or xz, so those are left to the
# zarr2/N5 suites.
VB_CODECS = ["raw", "gzip:6", "zstd:3", "zstd:3+crc32c", "gzip:1+crc32c", "crc32c",
             "blosc:lz4:5:shuffle", "blosc:zstd:3:bitshuffle", "blosc:blosclz:9:noshuffle",
             "blosc:lz4hc:5:shuffle+crc32c", "zlib:6", "lz4"]

SHARDED = [
    # dtype, shape, chunks, shards, codec
    ("uint8", (37, 41, 29), (8, 8, 8), (16, 16, 16), "zstd:1"),
    ("uint16", (37, 41, 29), (8, 8, 8), (16, 16, 16), "gzip:6+crc32c"),
    ("uint16", (37, 41, 29), (8, 8, 8), (32, 16, 8), "raw"),
    ("float32", (37, 41, 29), (8, 8, 8), (16, 24, 16), "blosc:lz4:5:shuffle"),
    ("int64", (37, 41, 29), (5, 7, 8), (10, 14, 24), "zstd:3+crc32c"),
    ("float64", (19, 23), (6, 7), (12, 21), "zstd:1"),
    ("bool", (19, 23), (6, 7), (18, 7), "gzip:6"),
    ("int8", (5, 7, 6, 9), (2, 3, 4, 4), (4, 6, 4, 8), "zstd:1"),
    ("uint32", (3, 5, 4, 6, 7), (2, 2, 3, 4, 3), (2, 4, 3, 8, 6), "crc32c"),
    ("int16", (100,), (8,), (64,), "zstd:1+crc32c"),
    ("uint64", (37, 41, 29), (8, 8, 8), (40, 48, 32), "zstd:1"),  # one shard, larger than the array
]


def vb_cases():
    cases = []
    for ti, dtype in enumerate(V3_DTYPES):
        for rank in SHAPES:
            shape, chunks = SHAPES[rank]
            codec = VB_CODECS[(ti * 5 + rank) % len(VB_CODECS)]
            cases.append(Case(f"{dtype}-r{rank}-{codec}", dtype, rank, shape=shape,
                              chunks=chunks, codec=codec, shards=None, fill=None))
    for codec in VB_CODECS:
        for dtype, rank in [("uint16", 3), ("float32", 4)]:
            shape, chunks = SHAPES[rank]
            cases.append(Case(f"codec-{codec}-{dtype}-r{rank}", dtype, rank, shape=shape,
                              chunks=chunks, codec=codec, shards=None, fill=None))
    for dtype, shape, chunks, shards, codec in SHARDED:
        sid = "x".join(map(str, shards))
        cases.append(Case(f"sharded-{dtype}-r{len(shape)}-{sid}-{codec}", dtype, len(shape),
                          shape=shape, chunks=chunks, codec=codec, shards=shards, fill=None))
    for dtype, fill, shards in [("float32", float("nan"), None), ("float64", float("-inf"), None),
                                ("uint16", 7, None), ("float32", float("nan"), (8, 10, 8)),
                                ("int16", -1, (8, 10, 8))]:
        shape, chunks = SHAPES[3]
        cases.append(Case(f"fill-{dtype}-{fill}-{'sharded' if shards else 'plain'}", dtype, 3,
                          shape=shape, chunks=chunks, codec="zstd:3", shards=shards, fill=fill))
    return cases


VB_CASES = {c.id: c for c in vb_cases()}


@pytest.fixture(scope="session")
def zarrita_read(volbatch, zarrita, tmp_path_factory):
    work = tmp_path_factory.mktemp("zarrita_reads")
    jobs, out = [], {}
    for i, c in enumerate(VB_CASES.values()):
        data = iu.make_data(c.dtype, c.shape, iu.seed_of("vb3" + c.id))
        if c.fill is not None:
            data[:4] = c.fill  # whole chunks (and a whole shard row) of fill value
        npy = work / f"in{i}.npy"
        np.save(npy, data)
        path = str(work / f"a{i}.zarr")
        entry = {"path": path, "data": data, "error": None, "read": None,
                 "bin": str(work / f"a{i}.bin")}
        try:
            volbatch.write(npy, path, c.chunks, codec=c.codec, shards=c.shards, fill=c.fill)
        except AssertionError as e:
            entry["error"] = str(e)
        else:
            entry["job"] = len(jobs)
            jobs.append({"op": "read", "path": path, "out": entry["bin"]})
        out[c.id] = entry
    results = zarrita.run(jobs, str(work))
    for entry in out.values():
        if "job" in entry:
            entry["read"] = results[entry["job"]]
    return out


@pytest.mark.parametrize("case_id", list(VB_CASES))
def test_volbatch_writes_zarrita_reads(zarrita_read, case_id):
    c = VB_CASES[case_id]
    entry = zarrita_read[case_id]
    assert entry["error"] is None, entry["error"]
    with open(os.path.join(entry["path"], "zarr.json")) as f:
        meta = json.load(f)
    assert meta["shape"] == list(c.shape) and meta["data_type"] == c.dtype, meta
    grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
    if c.shards:
        assert grid == list(c.shards), meta
        assert meta["codecs"][0]["name"] == "sharding_indexed", meta
        assert meta["codecs"][0]["configuration"]["chunk_shape"] == list(c.chunks), meta
    else:
        assert grid == list(c.chunks), meta
    assert entry["read"]["ok"], f"zarrita could not read it: {entry['read'].get('error')}"
    dt = np.dtype(c.dtype).newbyteorder("<")
    got = np.fromfile(entry["bin"], dtype=dt).reshape(c.shape)
    iu.assert_same(got, entry["data"], f"zarrita reading {entry['path']} ({c.codec})")


def chunk_files(path):
    root = os.path.join(path, "c")
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.startswith("."):
                yield os.path.join(dirpath, f)


@pytest.mark.parametrize("case_id", [cid for cid, c in VB_CASES.items() if "crc32c" in c.codec])
def test_volbatch_crc32c_checksums_are_right(zarrita_read, case_id):
    """zarrita strips crc32c without checking it; check every stored checksum here."""
    c = VB_CASES[case_id]
    entry = zarrita_read[case_id]
    assert entry["error"] is None, entry["error"]
    files = list(chunk_files(entry["path"]))
    assert files, "no chunks were written"
    n_inner = int(np.prod([s // k for s, k in zip(c.shards, c.chunks)])) if c.shards else 0
    checked = 0
    for f in files:
        blob = open(f, "rb").read()
        if not c.shards:
            iu.check_crc32c_tail(blob, f)
            checked += 1
            continue
        # A shard: inner chunks, then the index (offset, nbytes per inner chunk, uint64 LE) and
        # its own crc32c.
        index = blob[-(16 * n_inner + 4):]
        iu.check_crc32c_tail(index, f + " (shard index)")
        entries = np.frombuffer(index[:-4], dtype="<u8").reshape(-1, 2)
        for offset, nbytes in entries:
            if offset == 2**64 - 1 and nbytes == 2**64 - 1:
                continue  # an empty inner chunk
            iu.check_crc32c_tail(blob[offset:offset + nbytes], f"{f} inner chunk @{offset}")
            checked += 1
    assert checked > 0
