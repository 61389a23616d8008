"""Zarr v2 against zarr-python 2.13 + numcodecs, both ways.

zarr-python writes (every numcodecs compressor, C and F order, "." and "/" separators, Delta
and AsType filters, NaN/inf fill values, every dtype, ranks 1-5, edge chunks) and volbatch
reads exactly; volbatch writes (`import --format zarr2` with every codec SPEC) and zarr-python
reads exactly.
"""
import lzma
import os

import numcodecs as nc
import numpy as np
import pytest
import zarr

import interop_util as iu
from interop_util import ALL_DTYPES, SHAPES

BLOSC_SHUFFLES = {"noshuffle": nc.Blosc.NOSHUFFLE, "shuffle": nc.Blosc.SHUFFLE,
                  "bitshuffle": nc.Blosc.BITSHUFFLE}

COMPRESSORS = {
    "none": lambda: None,
    "gzip1": lambda: nc.GZip(level=1),
    "gzip9": lambda: nc.GZip(level=9),
    "zlib1": lambda: nc.Zlib(level=1),
    "zlib6": lambda: nc.Zlib(level=6),
    "zstd1": lambda: nc.Zstd(level=1),
    "zstd9": lambda: nc.Zstd(level=9),
    "lz4": lambda: nc.LZ4(acceleration=1),
    "lz4a10": lambda: nc.LZ4(acceleration=10),
    "bz2_1": lambda: nc.BZ2(level=1),
    "bz2_9": lambda: nc.BZ2(level=9),
    "lzma": lambda: nc.LZMA(),
    "lzma1": lambda: nc.LZMA(preset=1),
    "lzma_alone": lambda: nc.LZMA(format=lzma.FORMAT_ALONE),
    "blosc_bs256": lambda: nc.Blosc(cname="lz4", clevel=5, shuffle=nc.Blosc.SHUFFLE,
                                    blocksize=256),
    "blosc_snappy": lambda: nc.Blosc(cname="snappy", clevel=5, shuffle=nc.Blosc.SHUFFLE),
}
for _cname in ["lz4", "lz4hc", "blosclz", "zstd", "zlib"]:
    for _sname, _shuffle in BLOSC_SHUFFLES.items():
        COMPRESSORS[f"blosc_{_cname}_{_sname}"] = (
            lambda c=_cname, s=_shuffle: nc.Blosc(cname=c, clevel=5, shuffle=s))
COMPRESSOR_KEYS = list(COMPRESSORS)

# Known gaps, kept visible: strict, so a fix turns them into failures that ask for this list
# to shrink.
KNOWN_GAPS = {
    "lzma_alone": "volbatch reads LZMA only in the xz container (numcodecs' default), not "
                  "FORMAT_ALONE",
}


def compressor_param(comp, *values, id=None):
    marks = [pytest.mark.xfail(reason=KNOWN_GAPS[comp], strict=True)] if comp in KNOWN_GAPS else []
    return pytest.param(*values, marks=marks, id=id)

# volbatch codec SPECs and the numcodecs id zarr-python must then see.
VOLBATCH_CODECS = {
    "raw": None, "gzip:1": "gzip", "gzip:6": "gzip", "zlib:6": "zlib", "zstd:3": "zstd",
    "zstd:1": "zstd", "lz4": "lz4", "bz2:9": "bz2", "xz:6": "lzma",
    "blosc:lz4:5:shuffle": "blosc", "blosc:lz4hc:9:noshuffle": "blosc",
    "blosc:zstd:3:bitshuffle": "blosc", "blosc:blosclz:5:shuffle": "blosc",
    "blosc:zlib:1:noshuffle": "blosc",
}
VOLBATCH_CODEC_KEYS = list(VOLBATCH_CODECS)


def peer_write(path, data, chunks, compressor, order="C", sep=".", filters=None, fill=0,
               region=None):
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=chunks, dtype=data.dtype,
                        compressor=compressor, order=order, dimension_separator=sep,
                        filters=filters, fill_value=fill)
    if region is None:
        z[...] = data
    else:
        z[region] = data[region]
    return z


def check_volbatch_reads(volbatch, path, expected, chunks, tmp_path, roi=True):
    got = volbatch.read(path, str(tmp_path / "out.npy"))
    iu.assert_same(got, expected, f"volbatch export {path}")
    info = volbatch.info(path)
    assert info["format"] == "zarr2", info
    assert info["shape"] == list(expected.shape), info
    assert info["dtype"] == expected.dtype.name, info
    assert info["chunks"] == list(chunks), info
    if roi and expected.ndim > 1:
        spec, slices = iu.roi_of(expected.shape)
        got = volbatch.read(path, str(tmp_path / "roi.npy"), roi=spec)
        iu.assert_same(got, expected[slices], f"volbatch export {path} --roi {spec}")


# --- zarr-python writes, volbatch reads -----------------------------------------------------

def sweep_cases():
    cases = []
    k = 0
    for dtype in ALL_DTYPES:
        for rank in SHAPES:
            for order in "CF":
                k += 1
                comp = COMPRESSOR_KEYS[(k * 7) % len(COMPRESSOR_KEYS)]
                sep = "/" if (k // 2) % 2 else "."
                sep_name = "slash" if sep == "/" else "dot"
                cases.append(compressor_param(comp, dtype, rank, comp, order, sep,
                                              id=f"{dtype}-r{rank}-{comp}-{order}-sep{sep_name}"))
    return cases


@pytest.mark.parametrize("dtype,rank,comp,order,sep", sweep_cases())
def test_peer_writes_every_dtype_and_rank(volbatch, tmp_path, dtype, rank, comp, order, sep):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"{dtype}{rank}{comp}"))
    path = str(tmp_path / "a.zarr")
    peer_write(path, data, chunks, COMPRESSORS[comp](), order=order, sep=sep)
    check_volbatch_reads(volbatch, path, data, chunks, tmp_path)


@pytest.mark.parametrize("comp", [compressor_param(c, c, id=c) for c in COMPRESSOR_KEYS])
@pytest.mark.parametrize("dtype,rank,order", [("uint16", 3, "C"), ("float64", 2, "F"),
                                              ("int32", 4, "C")])
def test_peer_writes_every_compressor(volbatch, tmp_path, comp, dtype, rank, order):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(comp + dtype))
    path = str(tmp_path / "a.zarr")
    peer_write(path, data, chunks, COMPRESSORS[comp](), order=order, sep="/")
    check_volbatch_reads(volbatch, path, data, chunks, tmp_path, roi=False)


FILTERS = {
    "delta_i4": ("int32", lambda: [nc.Delta(dtype="i4")], "zstd1"),
    "delta_u2": ("uint16", lambda: [nc.Delta(dtype="u2")], "blosc_lz4_shuffle"),
    "delta_i8_as_i8": ("int64", lambda: [nc.Delta(dtype="i8", astype="i8")], "gzip1"),
    "delta_i4_as_i2": ("int32", lambda: [nc.Delta(dtype="i4", astype="i2")], "zlib1"),
    "delta_f8": ("float64", lambda: [nc.Delta(dtype="f8")], "none"),
    "astype_f8_as_f4": ("float64", lambda: [nc.AsType(encode_dtype="f4", decode_dtype="f8")],
                        "zstd1"),
    "astype_i8_as_i2": ("int64", lambda: [nc.AsType(encode_dtype="i2", decode_dtype="i8")],
                        "lz4"),
    "astype_u4_as_u1": ("uint32", lambda: [nc.AsType(encode_dtype="u1", decode_dtype="u4")],
                        "none"),
    "delta_then_astype": ("int32", lambda: [nc.Delta(dtype="i4"),
                                            nc.AsType(encode_dtype="i8", decode_dtype="i4")],
                          "bz2_1"),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_peer_writes_filters(volbatch, tmp_path, name):
    dtype, filters, comp = FILTERS[name]
    shape, chunks = SHAPES[3]
    rng = np.random.default_rng(iu.seed_of(name))
    # Values the narrower stored type holds exactly, so the filter round trip is lossless.
    if dtype.startswith("float"):
        data = rng.standard_normal(shape).astype("float32").astype(dtype)
    else:
        data = rng.integers(0, 100, size=shape).astype(dtype)
        if "as_i2" in name:
            data = np.cumsum(data.reshape(-1) % 3, dtype=dtype).reshape(shape)  # small deltas
    path = str(tmp_path / "a.zarr")
    peer_write(path, data, chunks, COMPRESSORS[comp](), filters=filters(), order="C")
    check_volbatch_reads(volbatch, path, data, chunks, tmp_path, roi=False)


FILLS = [
    ("float32", np.nan), ("float64", np.nan), ("float16", np.nan), ("float64", np.inf),
    ("float32", -np.inf), ("float16", -np.inf), ("float64", -0.5), ("int16", -7),
    ("int64", -2**63), ("uint64", 2**64 - 1), ("uint8", 255), ("bool", True),
]


@pytest.mark.parametrize("dtype,fill", FILLS, ids=[f"{d}-{f}" for d, f in FILLS])
def test_peer_fill_values_for_missing_chunks(volbatch, tmp_path, dtype, fill):
    shape, chunks = SHAPES[3]
    data = iu.make_data(dtype, shape, iu.seed_of(f"fill{dtype}{fill}"))
    region = (slice(2, 7), slice(0, 11), slice(5, 9))  # leaves whole chunks unwritten
    path = str(tmp_path / "a.zarr")
    peer_write(path, data, chunks, nc.Zstd(level=1), fill=fill, region=region)
    expected = np.full(shape, fill, dtype=dtype)
    expected[region] = data[region]
    assert len(os.listdir(path)) - 1 < np.prod([-(-s // c) for s, c in zip(shape, chunks)])
    check_volbatch_reads(volbatch, path, expected, chunks, tmp_path)
    info = volbatch.info(path)
    got_fill = np.array(info["fill_value"] if not isinstance(info["fill_value"], str)
                        else float(info["fill_value"].replace("Infinity", "inf")), dtype=dtype)
    iu.assert_same(got_fill, np.array(fill, dtype=dtype), "info fill_value")


# --- volbatch writes, zarr-python reads -----------------------------------------------------

def check_peer_reads(path, expected, chunks, codec_id, fill=None):
    z = zarr.open_array(path, mode="r")
    assert z.shape == expected.shape
    assert z.chunks == tuple(chunks)
    assert z.dtype == expected.dtype, (z.dtype, expected.dtype)
    got_id = z.compressor.codec_id if z.compressor is not None else None
    assert got_id == codec_id, f"compressor {z.compressor!r}, expected {codec_id}"
    if fill is not None:
        iu.assert_same(np.array(z.fill_value, dtype=z.dtype), np.array(fill, dtype=z.dtype),
                       "fill_value")
    iu.assert_same(z[...], expected, f"zarr-python reading {path}")


def volbatch_sweep_cases():
    cases = []
    for ti, dtype in enumerate(ALL_DTYPES):
        for rank in SHAPES:
            codec = VOLBATCH_CODEC_KEYS[(ti * 5 + rank) % len(VOLBATCH_CODEC_KEYS)]
            cases.append(pytest.param(dtype, rank, codec, id=f"{dtype}-r{rank}-{codec}"))
    return cases


@pytest.mark.parametrize("dtype,rank,codec", volbatch_sweep_cases())
def test_volbatch_writes_every_dtype_and_rank(volbatch, tmp_path, dtype, rank, codec):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"vb{dtype}{rank}"))
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    volbatch.write(tmp_path / "in.npy", path, chunks, codec=codec, fmt="zarr2")
    check_peer_reads(path, data, chunks, VOLBATCH_CODECS[codec])


@pytest.mark.parametrize("codec", VOLBATCH_CODEC_KEYS)
@pytest.mark.parametrize("dtype,rank", [("uint16", 3), ("float32", 4), ("int8", 2)])
def test_volbatch_writes_every_codec(volbatch, tmp_path, codec, dtype, rank):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"vbc{codec}{dtype}"))
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    volbatch.write(tmp_path / "in.npy", path, chunks, codec=codec, fmt="zarr2")
    check_peer_reads(path, data, chunks, VOLBATCH_CODECS[codec])


VB_FILLS = [("float32", np.nan), ("float64", np.inf), ("int16", -7), ("uint64", 2**64 - 1),
            ("uint8", 0), ("bool", True)]


@pytest.mark.parametrize("dtype,fill", VB_FILLS, ids=[f"{d}-{f}" for d, f in VB_FILLS])
def test_volbatch_fill_value_chunks_peer_reads(volbatch, tmp_path, dtype, fill):
    """Chunks equal to the fill value may be left unwritten; the peer must still read them."""
    shape, chunks = SHAPES[3]
    data = iu.make_data(dtype, shape, iu.seed_of(f"vbfill{dtype}"))
    data[:4] = fill  # the first row of chunks is all fill
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    volbatch.write(tmp_path / "in.npy", path, chunks, codec="zstd:3", fmt="zarr2", fill=fill)
    check_peer_reads(path, data, chunks, "zstd", fill=fill)


def test_volbatch_writes_nested_array_in_container(volbatch, tmp_path):
    shape, chunks = SHAPES[3]
    data = iu.make_data("uint16", shape, 5)
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "c.zarr" / "group" / "raw")
    volbatch.write(tmp_path / "in.npy", path, chunks, codec="gzip:6", fmt="zarr2")
    root = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    iu.assert_same(root["group/raw"][...], data, "nested array")
