"""N5 against zarr-python 2.13's N5Store, both ways.

N5Store writes (raw, gzip, zlib-flavoured gzip, bzip2, xz, lz4, zstd, blosc; every N5 dtype;
ranks 1-5; odd shapes: N5Store writes edge blocks at full size) and volbatch reads exactly;
volbatch writes (`import --format n5` with each codec SPEC) and N5Store reads exactly.
"""
import json
import os
import struct
import warnings

import numcodecs as nc
import numpy as np
import pytest
import zarr

import interop_util as iu
from interop_util import N5_DTYPES, SHAPES

COMPRESSORS = {
    "raw": lambda: None,
    "gzip5": lambda: nc.GZip(level=5),
    "gzip_zlib": lambda: nc.Zlib(level=5),  # N5 gzip with "useZlib": true
    "bzip2": lambda: nc.BZ2(level=9),
    "xz": lambda: nc.LZMA(preset=6),
    "lz4": lambda: nc.LZ4(),
    "zstd": lambda: nc.Zstd(level=3),
    "blosc_lz4": lambda: nc.Blosc(cname="lz4", clevel=5, shuffle=nc.Blosc.SHUFFLE),
    "blosc_zstd": lambda: nc.Blosc(cname="zstd", clevel=3, shuffle=nc.Blosc.BITSHUFFLE),
}
COMPRESSOR_KEYS = list(COMPRESSORS)

# volbatch codec SPEC -> the N5 compression type the peer must see.
VOLBATCH_CODECS = {
    "raw": "raw", "gzip:6": "gzip", "zlib:6": "gzip", "bz2:9": "bzip2", "xz:6": "xz",
    "lz4": "lz4", "zstd:3": "zstd", "blosc:lz4:5:shuffle": "blosc",
    "blosc:zstd:3:bitshuffle": "blosc",
}
VOLBATCH_CODEC_KEYS = list(VOLBATCH_CODECS)

# zarr-python's N5Store has its own "lz4": numcodecs' framing with an "acceleration" field. Real
# N5 lz4 (what volbatch writes) is lz4-java's LZ4Block stream with a "blockSize" field, which
# N5Store cannot even construct (TypeError: unexpected keyword 'blockSize'). Those cases stay
# visible as strict xfails; test_volbatch_n5_lz4_decoded_independently checks the bytes.
N5STORE_LZ4 = pytest.mark.xfail(
    reason="zarr 2.13 N5Store cannot read N5 (lz4-java LZ4Block) lz4", strict=True,
    raises=TypeError)


def peer_write(root, data, chunks, compressor):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # N5Store warns that blosc is not portable
        z = zarr.open_array(store=zarr.N5Store(root), path="arr", mode="w", shape=data.shape,
                            chunks=chunks, dtype=data.dtype, compressor=compressor)
        z[...] = data


def check_volbatch_reads(volbatch, path, expected, chunks, tmp_path, roi=True):
    got = volbatch.read(path, str(tmp_path / "out.npy"))
    iu.assert_same(got, expected, f"volbatch export {path}")
    info = volbatch.info(path)
    assert info["format"] == "n5", info
    assert info["shape"] == list(expected.shape), info
    assert info["dtype"] == expected.dtype.name, info
    assert info["chunks"] == list(chunks), info
    if roi and expected.ndim > 1:
        spec, slices = iu.roi_of(expected.shape)
        got = volbatch.read(path, str(tmp_path / "roi.npy"), roi=spec)
        iu.assert_same(got, expected[slices], f"volbatch export {path} --roi {spec}")


def sweep_cases():
    cases = []
    for ti, dtype in enumerate(N5_DTYPES):
        for rank in SHAPES:
            comp = COMPRESSOR_KEYS[(ti * 5 + rank) % len(COMPRESSOR_KEYS)]
            cases.append(pytest.param(dtype, rank, comp, id=f"{dtype}-r{rank}-{comp}"))
    return cases


@pytest.mark.parametrize("dtype,rank,comp", sweep_cases())
def test_peer_writes_every_dtype_and_rank(volbatch, tmp_path, dtype, rank, comp):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"n5{dtype}{rank}"))
    root = str(tmp_path / "c.n5")
    peer_write(root, data, chunks, COMPRESSORS[comp]())
    check_volbatch_reads(volbatch, root + "/arr", data, chunks, tmp_path)


@pytest.mark.parametrize("comp", COMPRESSOR_KEYS)
@pytest.mark.parametrize("dtype,rank", [("uint16", 3), ("float64", 2)])
def test_peer_writes_every_compressor(volbatch, tmp_path, comp, dtype, rank):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"n5c{comp}{dtype}"))
    root = str(tmp_path / "c.n5")
    peer_write(root, data, chunks, COMPRESSORS[comp]())
    check_volbatch_reads(volbatch, root + "/arr", data, chunks, tmp_path, roi=False)


def check_peer_reads(root, expected, chunks, n5_type):
    with open(os.path.join(root, "arr", "attributes.json")) as f:
        attrs = json.load(f)
    assert attrs["compression"]["type"] == n5_type, attrs
    assert attrs["dimensions"] == list(expected.shape)[::-1], attrs
    assert attrs["blockSize"] == list(chunks)[::-1], attrs
    z = zarr.open_array(store=zarr.N5Store(root), path="arr", mode="r")
    assert z.shape == expected.shape and z.chunks == tuple(chunks)
    assert z.dtype == expected.dtype, (z.dtype, expected.dtype)
    iu.assert_same(z[...], expected, f"N5Store reading {root}/arr")


def volbatch_sweep_cases():
    cases = []
    for ti, dtype in enumerate(N5_DTYPES):
        for rank in SHAPES:
            codec = VOLBATCH_CODEC_KEYS[(ti * 5 + rank) % len(VOLBATCH_CODEC_KEYS)]
            cases.append(pytest.param(dtype, rank, codec, id=f"{dtype}-r{rank}-{codec}",
                                      marks=[N5STORE_LZ4] if codec == "lz4" else []))
    return cases


@pytest.mark.parametrize("dtype,rank,codec", volbatch_sweep_cases())
def test_volbatch_writes_every_dtype_and_rank(volbatch, tmp_path, dtype, rank, codec):
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"vbn5{dtype}{rank}"))
    np.save(tmp_path / "in.npy", data)
    root = str(tmp_path / "c.n5")
    volbatch.write(tmp_path / "in.npy", root + "/arr", chunks, codec=codec, fmt="n5")
    check_peer_reads(root, data, chunks, VOLBATCH_CODECS[codec])


@pytest.mark.parametrize("codec", [pytest.param(c, marks=[N5STORE_LZ4] if c == "lz4" else [])
                                   for c in VOLBATCH_CODEC_KEYS])
def test_volbatch_writes_every_codec(volbatch, tmp_path, codec):
    shape, chunks = SHAPES[3]
    data = iu.make_data("uint16", shape, iu.seed_of(f"vbn5c{codec}"))
    np.save(tmp_path / "in.npy", data)
    root = str(tmp_path / "c.n5")
    volbatch.write(tmp_path / "in.npy", root + "/arr", chunks, codec=codec, fmt="n5")
    check_peer_reads(root, data, chunks, VOLBATCH_CODECS[codec])


def test_volbatch_format_from_n5_suffix(volbatch, tmp_path):
    """Without --format, a path inside a .n5 container is N5."""
    shape, chunks = SHAPES[2]
    data = iu.make_data("int16", shape, 11)
    np.save(tmp_path / "in.npy", data)
    root = str(tmp_path / "c.n5")
    volbatch.write(tmp_path / "in.npy", root + "/arr", chunks, codec="gzip:6")
    check_peer_reads(root, data, chunks, "gzip")


def decode_lz4block(stream, what):
    """lz4-java's LZ4BlockOutputStream framing: blocks of "LZ4Block", a token (method in the
    high nibble: 0x10 raw, 0x20 lz4), compressed and decompressed lengths and a checksum
    (int32 little-endian each), then the payload; an empty block ends the stream."""
    out, pos = bytearray(), 0
    while pos < len(stream):
        assert stream[pos:pos + 8] == b"LZ4Block", f"{what}: no LZ4Block magic at {pos}"
        token = stream[pos + 8]
        clen, dlen, _ = struct.unpack_from("<iii", stream, pos + 9)
        payload = stream[pos + 21:pos + 21 + clen]
        assert len(payload) == clen, f"{what}: truncated block at {pos}"
        pos += 21 + clen
        if clen == 0 and dlen == 0:
            break
        method = token & 0xF0
        if method == 0x10:
            out += payload
        else:
            assert method == 0x20, f"{what}: unknown LZ4Block method {token:#x}"
            # numcodecs' LZ4 is the raw block format behind a little-endian size prefix.
            out += nc.LZ4().decode(struct.pack("<I", dlen) + payload)
    return bytes(out)


def read_n5_by_hand(root, shape, chunks, dtype, decode):
    """Reassembles an N5 array from its block files: a big-endian header (mode, ndim, the
    block's dimensions x first), then the payload, big-endian elements with x fastest."""
    out = np.zeros(shape, dtype=dtype)
    grid = [-(-n // c) for n, c in zip(shape, chunks)]
    for idx in np.ndindex(*grid):
        key = os.path.join(root, *map(str, idx[::-1]))
        if not os.path.exists(key):
            continue
        raw = open(key, "rb").read()
        mode, ndim = struct.unpack_from(">HH", raw, 0)
        dims = struct.unpack_from(f">{ndim}I", raw, 4)[::-1]
        offset = 4 + 4 * ndim + (4 if mode == 1 else 0)
        payload = decode(raw[offset:], key)
        block = np.frombuffer(payload, dtype=np.dtype(dtype).newbyteorder(">"))
        block = block[:int(np.prod(dims))].reshape(dims)
        region = tuple(slice(i * c, min(n, i * c + d)) for i, c, n, d in
                       zip(idx, chunks, shape, dims))
        out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)]
    return out


@pytest.mark.parametrize("dtype,rank", [("uint16", 3), ("float64", 2), ("int8", 5),
                                        ("uint64", 1)])
def test_volbatch_n5_lz4_decoded_independently(volbatch, tmp_path, dtype, rank):
    """N5Store cannot read N5 lz4, so decode volbatch's blocks with a parser written here from
    the LZ4Block and N5 block layouts, and numcodecs' raw LZ4 block decoder."""
    shape, chunks = SHAPES[rank]
    data = iu.make_data(dtype, shape, iu.seed_of(f"lz4{dtype}"))
    np.save(tmp_path / "in.npy", data)
    root = str(tmp_path / "c.n5")
    volbatch.write(tmp_path / "in.npy", root + "/arr", chunks, codec="lz4", fmt="n5")
    with open(os.path.join(root, "arr", "attributes.json")) as f:
        attrs = json.load(f)
    assert attrs["compression"]["type"] == "lz4", attrs
    got = read_n5_by_hand(os.path.join(root, "arr"), shape, chunks, dtype, decode_lz4block)
    iu.assert_same(got, data, "N5 lz4 blocks decoded by hand")
