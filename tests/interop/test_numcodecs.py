"""numcodecs' own codecs and filters, and the quirks of files other writers left, against
python3-numcodecs 0.11 and zarr-python 2.13.

- z5py quirks: a blosc chunk with bytes after its frame, and a "gzip" chunk that is a zlib
  stream, read exactly (zarr-python reads the first; volbatch info says so once for the
  second).
"""
import os
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
