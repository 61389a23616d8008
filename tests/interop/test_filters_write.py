"""numcodecs filters written by volbatch (`--codec "FILTER+...+COMPRESSOR"`), against
python3-numcodecs 0.11 and zarr-python 2.13.

- Zarr v2: volbatch writes an array whose .zarray "filters" are exactly numcodecs' own
  configurations; zarr-python reads it exactly as it reads the same data it wrote itself with
  the same filters (lossy filters included), and every chunk, once decompressed, holds the bytes
  numcodecs' filters make of that chunk (zarr-python's own chunk written without a compressor).
- Zarr v3: the same spec gives numcodecs.* codecs before "bytes" in zarr-python 3's form
  ({"name": "numcodecs.delta", "configuration": {...}} with numcodecs' fields, no "id"); the
  chunks hold the same bytes as Zarr v2's and volbatch reads them back exactly.
- Bad specs: an unknown filter names itself; a filter that does not fit the dtype (bitround on
  integers, packbits on anything but bool, quantize on integers) names the flag, the spec and
  the filter; a filter after the compressor is refused.
"""
import json
import os

import numcodecs as nc
import numpy as np
import pytest
import zarr

import interop_util as iu

SHAPE, CHUNKS = (11, 13, 9), (4, 5, 4)  # partial edge chunks along every axis

# name: (volbatch --codec spec, dtype, numcodecs filters zarr-python gets, compressor)
CASES = {
    "shuffle": ("shuffle+zlib:1", "uint16", lambda: [nc.Shuffle(elementsize=2)],
                nc.Zlib(level=1)),
    "shuffle_4": ("shuffle:4+zstd:1", "uint16", lambda: [nc.Shuffle(elementsize=4)],
                  nc.Zstd(level=1)),
    "delta": ("delta+zstd:3", "int32", lambda: [nc.Delta(dtype="<i4")], nc.Zstd(level=3)),
    "delta_as_i2": ("delta:i2+gzip:6", "int32", lambda: [nc.Delta(dtype="<i4", astype="<i2")],
                    nc.GZip(level=6)),
    "delta_u1": ("delta", "uint8", lambda: [nc.Delta(dtype="|u1")], None),
    "delta_json": ('{"name": "numcodecs.delta", "configuration": {"dtype": "<i2", '
                   '"astype": "<i8"}}+zstd:1', "int16",
                   lambda: [nc.Delta(dtype="<i2", astype="<i8")], nc.Zstd(level=1)),
    "fixedscaleoffset_f8_u2": ("fixedscaleoffset:1000:100:u2+blosc:lz4:5:shuffle", "float64",
                               lambda: [nc.FixedScaleOffset(offset=1000, scale=100, dtype="<f8",
                                                            astype="<u2")],
                               nc.Blosc(cname="lz4", clevel=5, shuffle=nc.Blosc.SHUFFLE)),
    "fixedscaleoffset_f4_i4": ("fixedscaleoffset:0.5:10.5:i4", "float32",
                               lambda: [nc.FixedScaleOffset(offset=0.5, scale=10.5, dtype="<f4",
                                                            astype="<i4")], None),
    "fixedscaleoffset_i4": ("fixedscaleoffset:3:2+zlib:5", "int32",
                            lambda: [nc.FixedScaleOffset(offset=3, scale=2, dtype="<i4")],
                            nc.Zlib(level=5)),
    "quantize_f8": ("quantize:2+zlib:1", "float64", lambda: [nc.Quantize(digits=2, dtype="<f8")],
                    nc.Zlib(level=1)),
    "quantize_f4_f2": ("quantize:1:f2", "float32",
                       lambda: [nc.Quantize(digits=1, dtype="<f4", astype="<f2")], None),
    "bitround_f4": ("bitround:7+zstd:1", "float32", lambda: [nc.BitRound(keepbits=7)],
                    nc.Zstd(level=1)),
    "bitround_f8": ("bitround:20", "float64", lambda: [nc.BitRound(keepbits=20)], None),
    "packbits": ("packbits+zstd:1", "bool", lambda: [nc.PackBits()], nc.Zstd(level=1)),
    "astype_f8_f4": ("astype:f4+zstd:1", "float64",
                     lambda: [nc.AsType(encode_dtype="<f4", decode_dtype="<f8")],
                     nc.Zstd(level=1)),
    "astype_u4_u1": ("astype:u1", "uint32",
                     lambda: [nc.AsType(encode_dtype="|u1", decode_dtype="<u4")], None),
    "chain": ("fixedscaleoffset:1000:10:u2+delta+shuffle+zstd:1", "float64",
              lambda: [nc.FixedScaleOffset(offset=1000, scale=10, dtype="<f8", astype="<u2"),
                       nc.Delta(dtype="<u2"), nc.Shuffle(elementsize=2)], nc.Zstd(level=1)),
}


def case_data(name, dtype):
    rng = np.random.default_rng(iu.seed_of("fw" + name))
    if dtype == "bool":
        return rng.integers(0, 2, size=SHAPE).astype(bool)
    if dtype.startswith("float"):  # at or above the offsets, so that unsigned types hold them
        return np.clip(1000 + np.abs(rng.standard_normal(SHAPE)) * 150, 1000, 1600).astype(dtype)
    if dtype in ("uint8", "uint32"):
        return rng.integers(1, 200, size=SHAPE).astype(dtype)
    if dtype == "uint16":
        return rng.integers(1, 60000, size=SHAPE).astype(dtype)
    # Small steps, so that a narrower delta type holds every difference.
    steps = rng.integers(-100, 100, size=int(np.prod(SHAPE)))
    return np.cumsum(steps).reshape(SHAPE).astype(dtype)


def fill_of(dtype):
    """Edge chunks are padded with the fill value before the filters see them: 1000 keeps the
    padding of float arrays inside what fixedscaleoffset's unsigned types hold."""
    return 1000.0 if dtype.startswith("float") else 0


def numcodecs_reference(path, data, filters):
    """zarr-python's array of `data` through `filters` and no compressor: its chunk files are
    numcodecs' filter output, its values what zarr-python reads back from such filters."""
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=CHUNKS, dtype=data.dtype,
                        compressor=None, filters=filters, fill_value=fill_of(data.dtype.name))
    z[...] = data
    return z


def check_chunks_equal(path, key_of, reference, compressor, what):
    """Every chunk volbatch wrote decompresses to zarr-python's chunk of the same index."""
    count = 0
    for f in sorted(os.listdir(reference)):
        if f.startswith("."):
            continue
        stored_path = os.path.join(path, key_of(f.split(".")))
        with open(os.path.join(reference, f), "rb") as fh:
            want = fh.read()
        with open(stored_path, "rb") as fh:
            stored = fh.read()
        raw = bytes(compressor.decode(stored)) if compressor is not None else stored
        assert raw == want, f"{what} chunk {f}: {len(raw)} bytes differ from numcodecs' " \
                            f"{len(want)}"
        count += 1
    assert count == np.prod([-(-s // c) for s, c in zip(SHAPE, CHUNKS)])


def numcodecs_config(codec):
    return json.loads(json.dumps(codec.get_config()))


@pytest.mark.parametrize("name", list(CASES))
def test_volbatch_writes_v2_filters_zarr_python_reads(volbatch, tmp_path, name):
    spec, dtype, filters, compressor = CASES[name]
    data = case_data(name, dtype)
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    volbatch.write(str(tmp_path / "in.npy"), path, CHUNKS, codec=spec, fmt="zarr2",
                  fill=fill_of(dtype))

    with open(os.path.join(path, ".zarray")) as f:
        zarray = json.load(f)
    assert zarray["filters"] == [numcodecs_config(c) for c in filters()], zarray["filters"]
    if compressor is None:
        assert zarray["compressor"] is None
    else:
        assert zarray["compressor"]["id"] == compressor.codec_id

    ref = numcodecs_reference(str(tmp_path / "ref.zarr"), data, filters())
    expected = ref[...]  # lossy filters: what numcodecs makes of the data
    z = zarr.open_array(path, mode="r")
    assert z.filters == filters()
    iu.assert_same(z[...], expected, f"zarr-python reading volbatch's {name}")
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), expected, f"volbatch {name}")
    check_chunks_equal(path, lambda idx: "/".join(idx), str(tmp_path / "ref.zarr"), compressor,
                       name)


def v3_form(codec):
    """zarr-python 3's JSON for a numcodecs codec: "numcodecs.<id>", the rest as configuration."""
    config = numcodecs_config(codec)
    return {"name": "numcodecs." + config.pop("id"), "configuration": config}


@pytest.mark.parametrize("name", list(CASES))
def test_volbatch_writes_v3_numcodecs_filters_and_reads_back(volbatch, tmp_path, name):
    spec, dtype, filters, compressor = CASES[name]
    data = case_data(name, dtype)
    np.save(tmp_path / "in.npy", data)
    path = str(tmp_path / "a.zarr")
    volbatch.write(str(tmp_path / "in.npy"), path, CHUNKS, codec=spec, fmt="zarr3",
                  fill=fill_of(dtype))

    with open(os.path.join(path, "zarr.json")) as f:
        codecs = json.load(f)["codecs"]
    names = [c["name"] for c in codecs]
    bytes_at = names.index("bytes")
    # Array->array filters before "bytes", numcodecs.shuffle (bytes->bytes) after it.
    array_filters = [c for c in filters() if c.codec_id != "shuffle"]
    byte_filters = [c for c in filters() if c.codec_id == "shuffle"]
    assert codecs[:bytes_at] == [v3_form(c) for c in array_filters], codecs
    assert codecs[bytes_at + 1:bytes_at + 1 + len(byte_filters)] == \
        [v3_form(c) for c in byte_filters], codecs
    assert len(codecs) == bytes_at + 1 + len(byte_filters) + (compressor is not None)

    ref = numcodecs_reference(str(tmp_path / "ref.zarr"), data, filters())
    iu.assert_same(volbatch.read(path, str(tmp_path / "o.npy")), ref[...], f"volbatch {name}")
    check_chunks_equal(path, lambda idx: os.path.join("c", *idx), str(tmp_path / "ref.zarr"),
                       compressor, name)


def run_error(volbatch, *args):
    with pytest.raises(AssertionError) as e:
        volbatch.run(*args)
    return str(e.value)


BAD = [
    ("uint16", "deltaa+zstd:3", ['--codec: codec spec "deltaa+zstd:3": unknown codec "deltaa"',
                                 "delta[:astype]"]),
    ("int32", "bitround:3+zstd:3",
     ['--codec: codec spec "bitround:3+zstd:3": codecs[0] numcodecs.bitround: bitround needs '
      'float elements, got <i4']),
    ("uint8", "packbits", ["numcodecs.packbits: packbits needs bool elements, got |u1"]),
    ("int16", "quantize:2+zlib", ["numcodecs.quantize: quantize takes float types only"]),
    ("float32", "bitround:30", ["numcodecs.bitround", '"keepbits" 30 exceeds']),
    ("float32", "zstd:3+delta", ['array filter "numcodecs.delta" after the bytes codec "zstd"']),
    ("float32", "fixedscaleoffset:1", ['"fixedscaleoffset" needs offset, scale, astype']),
    ("float32", "delta:i9", ["delta astype"]),
]


@pytest.mark.parametrize("dtype,spec,needles", BAD, ids=[s for _, s, _ in BAD])
@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_bad_filter_specs_name_the_filter(volbatch, tmp_path, dtype, spec, needles, fmt):
    np.save(tmp_path / "in.npy", np.zeros((4, 4), dtype=dtype))
    path = str(tmp_path / "a.zarr")
    for cmd in (["import", str(tmp_path / "in.npy"), path, "--format", fmt, "--codec", spec],
                ["create", path, "--shape", "4,4", "--dtype", dtype, "--format", fmt,
                 "--codec", spec]):
        msg = run_error(volbatch, *cmd)
        for needle in needles:
            assert needle in msg, msg
        assert len(msg.strip().splitlines()) == 1, msg
        assert not os.path.exists(path), "nothing is written for a bad spec"
