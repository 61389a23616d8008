"""numcodecs' own codecs and filters, and the quirks of files other writers left, against
python3-numcodecs 0.11 and zarr-python 2.13.

- numcodecs.* bytes codecs in Zarr v3: numcodecs encodes, volbatch reads; volbatch encodes,
  numcodecs decodes and the bytes equal numcodecs' (gzip: but the mtime).
- Zarr v2 filters written by zarr-python read exactly; numcodecs.* filters in hand-written Zarr
  v3 arrays read exactly; unknown codecs and filters name themselves and the file.
- z5py quirks: a blosc chunk with bytes after its frame, and a "gzip" chunk that is a zlib
  stream, read exactly (zarr-python reads the first; volbatch info says so once for the
  second).
"""
import json
import os
import struct
import zlib

import numcodecs as nc
import numpy as np
import pytest
import zarr

import interop_util as iu


def chunk_files(path):
    return sorted(f for f in os.listdir(path) if not f.startswith("."))


# --- z5py quirks --------------------------------------------------------------------------

def test_blosc_chunk_with_trailing_bytes(volbatch, tmp_path):
    data = iu.make_data("uint16", (20, 30), 5)
    path = str(tmp_path / "a.zarr")
    zarr.open_array(path, mode="w", shape=data.shape, chunks=(8, 16), dtype=data.dtype,
                    compressor=nc.Blosc(cname="zstd", shuffle=nc.Blosc.SHUFFLE))[...] = data
    for name in chunk_files(path):
        with open(os.path.join(path, name), "ab") as f:
            f.write(b"\0" * 16)  # as z5py's chunk files hold after the frame
    iu.assert_same(zarr.open_array(path, mode="r")[...], data, "zarr-python")
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), data, "volbatch export")
    iu.assert_same(volbatch.read(path, str(tmp_path / "r.npy"), roi="3:17,5:29"),
                   data[3:17, 5:29], "volbatch export --roi")


def test_blosc_chunk_truncated_is_an_error(volbatch, tmp_path):
    data = iu.make_data("uint16", (8, 16), 6)
    path = str(tmp_path / "a.zarr")
    zarr.open_array(path, mode="w", shape=data.shape, chunks=(8, 16), dtype=data.dtype,
                    compressor=nc.Blosc(cname="lz4"))[...] = data
    chunk = os.path.join(path, "0.0")
    with open(chunk, "rb") as f:
        blob = f.read()
    with open(chunk, "wb") as f:
        f.write(blob[:-1])
    with pytest.raises(AssertionError) as e:
        volbatch.read(path, str(tmp_path / "o.npy"))
    assert (f"blosc: header says {len(blob)} compressed bytes, got {len(blob) - 1}"
            in str(e.value))
    assert "0.0" in str(e.value)


def test_gzip_chunk_holding_a_zlib_stream(volbatch, tmp_path):
    data = iu.make_data("float32", (12, 10), 7)
    path = str(tmp_path / "a.zarr")
    zarr.open_array(path, mode="w", shape=data.shape, chunks=(5, 10), dtype=data.dtype,
                    compressor=nc.GZip(level=5))[...] = data
    for name in chunk_files(path):  # rewrite every chunk as z5py wrote them: zlib framing
        p = os.path.join(path, name)
        raw = nc.GZip().decode(open(p, "rb").read())
        with open(p, "wb") as f:
            f.write(zlib.compress(raw, 5))
    # (numcodecs 0.11's GZip itself refuses these; z5 and zlib's auto-detecting inflate read
    # them, which is how such files were written and read.)
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), data, "volbatch export")
    text = volbatch.run("info", path)
    notes = [line for line in text.splitlines() if line.startswith("note:")]
    assert notes == ["note:        gzip chunks hold zlib streams (as z5py wrote them); "
                     "read as zlib"], text


# --- numcodecs.* bytes codecs in Zarr v3, both ways ----------------------------------------

def fletcher32(data):
    """numcodecs' Fletcher32 (>= 0.12; not in 0.11): HDF5's checksum, appended."""
    if len(data) % 2:
        data += b"\0"
    s1 = s2 = 0
    for (w,) in struct.iter_unpack("<H", data):
        s1 = (s1 + w) % 0xFFFF
        s2 = (s2 + s1) % 0xFFFF
    return s2 << 16 | s1


class Fletcher32Ref:
    def encode(self, b):
        return bytes(b) + struct.pack("<I", fletcher32(bytes(b)))

    def decode(self, b):
        b = bytes(b)
        assert struct.unpack("<I", b[-4:])[0] == fletcher32(b[:-4]), "fletcher32 mismatch"
        return b[:-4]


class Crc32EndRef:
    """numcodecs >= 0.14 CRC32(location="end"), absent from 0.11."""

    def encode(self, b):
        return bytes(b) + struct.pack("<I", zlib.crc32(bytes(b)))

    def decode(self, b):
        b = bytes(b)
        assert struct.unpack("<I", b[-4:])[0] == zlib.crc32(b[:-4]), "crc32 mismatch"
        return b[:-4]


# name: (configuration in zarr.json, the numcodecs codec (or reference) that makes the bytes,
#        whether numcodecs' encoding is deterministic, dtype)
BYTES_CODECS = {
    "zlib1": ("zlib", {"level": 1}, lambda: nc.Zlib(level=1), True, "uint16"),
    "zlib9": ("zlib", {"level": 9}, lambda: nc.Zlib(level=9), True, "float32"),
    "gzip1": ("gzip", {"level": 1}, lambda: nc.GZip(level=1), "mtime", "uint16"),
    "gzip6": ("gzip", {"level": 6}, lambda: nc.GZip(level=6), "mtime", "int32"),
    "bz2_1": ("bz2", {"level": 1}, lambda: nc.BZ2(level=1), True, "uint8"),
    "bz2_9": ("bz2", {"level": 9}, lambda: nc.BZ2(level=9), True, "float64"),
    "lzma": ("lzma", {"format": 1, "check": -1, "preset": None, "filters": None},
             lambda: nc.LZMA(), True, "uint16"),
    "lzma1": ("lzma", {"preset": 1}, lambda: nc.LZMA(preset=1), True, "int64"),
    "zstd1": ("zstd", {"level": 1}, lambda: nc.Zstd(level=1), True, "uint16"),
    "zstd7": ("zstd", {"level": 7}, lambda: nc.Zstd(level=7), True, "float32"),
    "lz4": ("lz4", {"acceleration": 1}, lambda: nc.LZ4(acceleration=1), True, "uint16"),
    "lz4a9": ("lz4", {"acceleration": 9}, lambda: nc.LZ4(acceleration=9), True, "int8"),
    "blosc": ("blosc", {"cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
              lambda: nc.Blosc(cname="lz4", clevel=5, shuffle=1), True, "uint16"),
    "blosc_zstd_auto": ("blosc", {"cname": "zstd", "clevel": 3, "shuffle": -1},
                        lambda: nc.Blosc(cname="zstd", clevel=3, shuffle=-1), True, "float32"),
    "blosc_blosclz_bit": ("blosc", {"cname": "blosclz", "clevel": 9, "shuffle": 2,
                                    "blocksize": 256},
                          lambda: nc.Blosc(cname="blosclz", clevel=9, shuffle=2, blocksize=256),
                          True, "int16"),
    "crc32": ("crc32", {}, lambda: nc.CRC32(), True, "uint16"),
    "crc32_end": ("crc32", {"location": "end"}, Crc32EndRef, True, "uint16"),
    "adler32": ("adler32", {}, lambda: nc.Adler32(), True, "float64"),
    "fletcher32": ("fletcher32", {}, Fletcher32Ref, True, "int32"),
    "shuffle2": ("shuffle", {"elementsize": 2}, lambda: nc.Shuffle(elementsize=2), True,
                 "uint16"),
    "shuffle8": ("shuffle", {"elementsize": 8}, lambda: nc.Shuffle(elementsize=8), True,
                 "float64"),
}

SHAPE, CHUNKS = (12, 20), (6, 10)  # whole chunks only: each chunk's raw bytes are known


def v3_metadata(shape, chunks, dtype, codecs, fill=0):
    return {"zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, *codecs],
            "attributes": {}}


def chunk_grid(data, chunks):
    """(key, raw little-endian C-order bytes) of every chunk of `data` (whole chunks only)."""
    for idx in np.ndindex(*(n // c for n, c in zip(data.shape, chunks))):
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))
        raw = np.ascontiguousarray(data[sl]).astype(data.dtype.newbyteorder("<")).tobytes()
        yield "c/" + "/".join(map(str, idx)), raw


def write_v3(path, data, chunks, codecs, encode):
    os.makedirs(path)
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(v3_metadata(data.shape, chunks, data.dtype.name, codecs), f)
    for key, raw in chunk_grid(data, chunks):
        os.makedirs(os.path.dirname(os.path.join(path, key)), exist_ok=True)
        with open(os.path.join(path, key), "wb") as f:
            f.write(bytes(encode(raw)))


def codec_data(dtype, name):
    data = iu.make_data(dtype, SHAPE, iu.seed_of(name))
    if dtype.startswith("float"):  # compressible too: runs of equal values
        data[:, ::3] = data[:, :1]
    return data


@pytest.mark.parametrize("name", list(BYTES_CODECS))
def test_numcodecs_encodes_volbatch_decodes(volbatch, tmp_path, name):
    cid, config, make, _, dtype = BYTES_CODECS[name]
    data = codec_data(dtype, name)
    path = str(tmp_path / "a.zarr")
    write_v3(path, data, CHUNKS, [{"name": f"numcodecs.{cid}", "configuration": config}],
             make().encode)
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), data, f"numcodecs.{cid}")
    assert f"numcodecs.{cid}" in volbatch.info(path)["codecs"]


@pytest.mark.parametrize("name", list(BYTES_CODECS))
def test_volbatch_encodes_numcodecs_decodes(volbatch, tmp_path, name):
    cid, config, make, deterministic, dtype = BYTES_CODECS[name]
    data = codec_data(dtype, name)
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    spec = json.dumps({"name": f"numcodecs.{cid}", "configuration": config})
    volbatch.write(str(tmp_path / "in.npy"), path, CHUNKS, codec=spec, fmt="zarr3")
    codec = make()
    for key, raw in chunk_grid(data, CHUNKS):
        with open(os.path.join(path, key), "rb") as f:
            stored = f.read()
        assert bytes(codec.decode(stored)) == raw, f"{name} {key}: numcodecs decodes otherwise"
        want = bytes(codec.encode(raw))
        if deterministic == "mtime":  # gzip's header holds the time of writing
            stored, want = stored[:4] + stored[8:], want[:4] + want[8:]
        assert stored == want, f"{name} {key}: bytes differ from numcodecs' ({len(stored)} " \
                               f"vs {len(want)})"


# --- Zarr v2 filters, both ways -------------------------------------------------------------

V2_FILTERS = {
    "shuffle": ("uint16", lambda: [nc.Shuffle(elementsize=2)], nc.Zlib(level=1)),
    "bitround_f4": ("float32", lambda: [nc.BitRound(keepbits=7)], nc.Zstd(level=1)),
    "bitround_f8": ("float64", lambda: [nc.BitRound(keepbits=20)], None),
    "fixedscaleoffset_f8_u2": ("float64", lambda: [nc.FixedScaleOffset(
        offset=1000, scale=100, dtype="<f8", astype="<u2")], nc.Blosc()),
    "fixedscaleoffset_f4_i4": ("float32", lambda: [nc.FixedScaleOffset(
        offset=0.5, scale=10.0, dtype="<f4", astype="<i4")], None),
    "fixedscaleoffset_i4": ("int32", lambda: [nc.FixedScaleOffset(
        offset=3, scale=2, dtype="<i4")], None),
    "quantize_f8": ("float64", lambda: [nc.Quantize(digits=2, dtype="<f8")], nc.Zlib()),
    "quantize_f4_f2": ("float32", lambda: [nc.Quantize(digits=1, dtype="<f4", astype="<f2")],
                       None),
    "packbits": ("bool", lambda: [nc.PackBits()], nc.Zstd()),
    "delta_then_shuffle": ("int32", lambda: [nc.Delta(dtype="<i4"), nc.Shuffle(elementsize=4)],
                           nc.Blosc(cname="zstd")),
}


def filter_data(dtype, name):
    rng = np.random.default_rng(iu.seed_of(name))
    if dtype == "bool":
        return rng.integers(0, 2, size=(13, 11)).astype(bool)
    if dtype.startswith("float"):
        return (1000 + rng.standard_normal((13, 11)) * 50).astype(dtype)
    return rng.integers(-1000, 1000, size=(13, 11)).astype(dtype)


@pytest.mark.parametrize("name", list(V2_FILTERS))
def test_zarr_python_writes_filters_volbatch_reads(volbatch, tmp_path, name):
    dtype, filters, comp = V2_FILTERS[name]
    data = filter_data(dtype, name)
    path = str(tmp_path / "a.zarr")
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=(5, 4), dtype=dtype,
                        compressor=comp, filters=filters(), fill_value=0)
    z[...] = data
    expected = z[...]  # lossy filters: what zarr-python reads back
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), expected, name)


# --- numcodecs.* array->array codecs in Zarr v3 (zarr.json and chunks written by hand) -------

V3_FILTERS = {
    "delta": ("int32", {"dtype": "<i4"}, lambda: nc.Delta(dtype="<i4")),
    "delta_named": ("int32", {"dtype": "int32", "astype": "int32"}, lambda: nc.Delta("<i4")),
    "astype": ("float64", {"encode_dtype": "<f4", "decode_dtype": "<f8"},
               lambda: nc.AsType(encode_dtype="<f4", decode_dtype="<f8")),
    "bitround": ("float32", {"keepbits": 9}, lambda: nc.BitRound(keepbits=9)),
    "fixedscaleoffset": ("float64", {"offset": 1000, "scale": 10, "dtype": "<f8",
                                     "astype": "<i2"},
                         lambda: nc.FixedScaleOffset(offset=1000, scale=10, dtype="<f8",
                                                     astype="<i2")),
    "quantize": ("float32", {"digits": 2, "dtype": "<f4"},
                 lambda: nc.Quantize(digits=2, dtype="<f4")),
    "packbits": ("bool", {}, lambda: nc.PackBits()),
}


@pytest.mark.parametrize("name", list(V3_FILTERS))
def test_v3_numcodecs_filters_volbatch_reads(volbatch, tmp_path, name):
    dtype, config, make = V3_FILTERS[name]
    data = filter_data(dtype, name)[:12, :10]
    codec = make()
    cid = name.split("_")[0]
    path = str(tmp_path / "a.zarr")
    os.makedirs(path)
    meta = v3_metadata(data.shape, CHUNKS, dtype,
                       [{"name": "numcodecs.zlib", "configuration": {"level": 1}}])
    meta["codecs"].insert(0, {"name": f"numcodecs.{cid}", "configuration": config})
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(meta, f)
    expected = np.empty_like(data)
    for idx in np.ndindex(2, 1):
        sl = tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, CHUNKS))
        enc = np.asarray(codec.encode(np.ascontiguousarray(data[sl])))
        expected[sl] = np.asarray(codec.decode(enc)).view(dtype).reshape(CHUNKS)
        key = os.path.join(path, "c", *map(str, idx))
        os.makedirs(os.path.dirname(key), exist_ok=True)
        with open(key, "wb") as f:
            f.write(zlib.compress(enc.tobytes(), 1))
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), expected, name)


def test_unknown_codecs_name_themselves_and_the_file(volbatch, tmp_path):
    path = str(tmp_path / "a.zarr")
    os.makedirs(path)
    meta = v3_metadata((4,), (4,), "uint8", [{"name": "numcodecs.categorize"}])
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(meta, f)
    with pytest.raises(AssertionError) as e:
        volbatch.info(path)
    assert (f"{path}/zarr.json: codecs[1]: unknown codec \"numcodecs.categorize\" (known: "
            in str(e.value)), str(e.value)
    v2 = str(tmp_path / "b.zarr")
    zarr.open_array(v2, mode="w", shape=(4,), chunks=(4,), dtype="u1")
    z = json.load(open(os.path.join(v2, ".zarray")))
    z["filters"] = [{"id": "categorize", "labels": ["a"], "dtype": "|u1"}]
    json.dump(z, open(os.path.join(v2, ".zarray"), "w"))
    with pytest.raises(AssertionError) as e:
        volbatch.info(v2)
    assert (f"filters[0] in {v2}/.zarray: filter \"categorize\" is not supported (volbatch "
            "reads astype, bitround, delta, fixedscaleoffset, packbits, quantize)"
            in str(e.value)), str(e.value)
