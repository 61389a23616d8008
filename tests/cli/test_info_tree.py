"""`volbatch info` on an N5 or Zarr group: the tree of what it holds, each array with shape,
dtype, chunks, codecs and bytes stored, multiscale levels (OME-Zarr, N5) named as such."""
import json

import numpy as np


def _find(node, path):
    if node["path"] == path:
        return node
    for c in node.get("children", []):
        got = _find(c, path)
        if got:
            return got
    return None


def test_zarr_group_with_an_ome_pyramid(volbatch, tmp_path):
    src = tmp_path / "vol.npy"
    np.save(src, np.arange(16 * 32 * 32, dtype=np.uint16).reshape(16, 32, 32))
    volbatch("import", src, tmp_path / "vol.zarr" / "raw", "--chunks", "8,16,16", "--codec",
             "zstd:1", "--format", "zarr2")
    volbatch("import", src, tmp_path / "vol.zarr" / "sub" / "more", "--chunks", "16,16,16")
    volbatch("pyramid", tmp_path / "vol.zarr" / "raw", "--levels", "2")
    tree = json.loads(volbatch("info", tmp_path / "vol.zarr", "--json").stdout)
    assert tree["kind"] == "group"
    raw = _find(tree, "/raw")
    assert raw["shape"] == [16, 32, 32] and raw["dtype"] == "uint16"
    assert raw["chunks"] == [8, 16, 16] and raw["format"] == "zarr2" and raw["stored_bytes"] > 0
    assert "multiscale level 0" in raw["note"]
    assert "multiscale level 2" in _find(tree, "/raw_s2")["note"]
    assert _find(tree, "/sub/more")["format"] == "zarr3"
    text = volbatch("info", tmp_path / "vol.zarr" / "sub").stdout
    assert "more  uint16 [16,32,32]  chunks [16,16,16]" in text


def test_n5_root_with_scales(volbatch, tmp_path):
    src = tmp_path / "vol.npy"
    np.save(src, np.ones((8, 32, 32), np.uint8))
    volbatch("import", src, tmp_path / "d.n5" / "em" / "s0", "--chunks", "8,16,16")
    volbatch("pyramid", tmp_path / "d.n5" / "em" / "s0", "--levels", "1")
    tree = json.loads(volbatch("info", tmp_path / "d.n5", "--json").stdout)
    s1 = _find(tree, "/em/s1")
    assert s1["format"] == "n5" and "N5 multiscale level 1" in s1["note"]
