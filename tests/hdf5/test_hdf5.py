"""volbatch reads HDF5 as h5py writes it: CREMI's layout (volumes/raw uint8,
volumes/labels/neuron_ids uint64, `resolution` and `offset` attributes), chunked with gzip and
shuffle or contiguous, odd shapes, every numeric dtype in both byte orders. Each read (info,
export, import, copy, a job, the sampler, volbatch.open) is compared with h5py's; bad input
gives one line naming the file and the path; writes into HDF5 are refused.
"""
import json
import os
import shutil

import numpy as np
import pytest

import engine_util as eu

h5py = pytest.importorskip("h5py")

SHAPE = (13, 37, 41)  # odd: partial chunks on every axis
CHUNKS = (5, 16, 16)
RESOLUTION = [40.0, 4.0, 4.0]
DTYPES = ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"]


def _values(dtype, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.normal(0, 1000, SHAPE).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, SHAPE, dtype=dt.newbyteorder("="), endpoint=True)


@pytest.fixture(scope="module")
def cremi(tmp_path_factory):
    d = tmp_path_factory.mktemp("hdf5")
    path = str(d / "sample_A.hdf")
    raw = _values("u1", 0)
    # Neuron ids: big values (above 2^53) in blocks, as a label volume looks.
    ids = (np.arange(np.prod(SHAPE), dtype=np.uint64).reshape(SHAPE) // 97) + (1 << 60)
    with h5py.File(path, "w") as f:
        r = f.create_dataset("volumes/raw", data=raw, chunks=CHUNKS, compression="gzip",
                             compression_opts=4, shuffle=True)
        r.attrs["resolution"] = np.array(RESOLUTION)
        r.attrs["offset"] = np.array([0.0, 0.0, 0.0])
        n = f.create_dataset("volumes/labels/neuron_ids", data=ids, chunks=CHUNKS,
                             compression="gzip", shuffle=True)
        n.attrs["resolution"] = np.array(RESOLUTION)
        n.attrs["offset"] = np.array([40.0, 8.0, 4.0])
        n.attrs["comment"] = "neuron ids"
        arrays = {"volumes/raw": raw, "volumes/labels/neuron_ids": ids}
        for i, t in enumerate(DTYPES):
            for order in "<>":
                dt = np.dtype(order + t)
                v = _values(t, i + 10).astype(dt)
                f.create_dataset(f"dtypes/chunked/{order == '<' and 'le' or 'be'}_{t}", data=v,
                                 chunks=CHUNKS, compression="gzip", shuffle=True)
                f.create_dataset(f"dtypes/contiguous/{order == '<' and 'le' or 'be'}_{t}",
                                 data=v)
                for layout in ("chunked", "contiguous"):
                    arrays[f"dtypes/{layout}/{order == '<' and 'le' or 'be'}_{t}"] = v
        # Chunks never written read as the fill value (h5py and volbatch alike).
        sparse = f.create_dataset("sparse", shape=SHAPE, dtype="<i2", chunks=CHUNKS,
                                  compression="gzip", fillvalue=-7)
        sparse[0:5, 0:16, 0:16] = 3
        arrays["sparse"] = sparse[:]
        # Fletcher32 (a checksum filter volbatch leaves to libhdf5's H5Dread).
        arrays["checksummed"] = _values("u2", 3)
        f.create_dataset("checksummed", data=arrays["checksummed"], chunks=CHUNKS,
                         fletcher32=True, shuffle=True)
        f.create_dataset("bad/lzf", data=np.zeros((4, 4), "u1"), compression="lzf")
        f.create_dataset("bad/compound", data=np.zeros(4, dtype=[("a", "i4"), ("b", "f4")]))
        f.create_dataset("bad/vlen", (4,), dtype=h5py.vlen_dtype(np.int32))
        f.create_dataset("bad/string", data=np.array([b"ab", b"cd"], dtype="S2"))
        f.create_dataset("bad/vstring", data=["ab", "cd"], dtype=h5py.string_dtype())
        f.create_dataset("bad/scalar", data=3)
    return {"path": path, "dir": d, "arrays": arrays}


def test_info_of_a_dataset_shows_layout_codecs_and_cremi_attributes(cli, cremi):
    p = cremi["path"]
    d = json.loads(cli("info", p + "/volumes/raw", "--json").stdout)
    assert d["format"] == "hdf5"
    assert d["shape"] == list(SHAPE) and d["dtype"] == "uint8"
    assert d["chunks"] == list(CHUNKS)
    assert d["codecs"] == "shuffle | gzip(level=4)"
    assert d["attributes"]["resolution"] == RESOLUTION
    assert d["attributes"]["offset"] == [0.0, 0.0, 0.0]
    with h5py.File(p, "r") as f:
        assert d["stored_bytes"] == f["volumes/raw"].id.get_storage_size()
    n = json.loads(cli("info", p + "/volumes/labels/neuron_ids", "--json").stdout)
    assert n["dtype"] == "uint64" and n["attributes"]["comment"] == "neuron ids"
    text = cli("info", p + "/volumes/raw").stdout
    assert "format:      hdf5" in text and "resolution" in text
    c = json.loads(cli("info", p + "/dtypes/contiguous/be_f4", "--json").stdout)
    assert c["metadata"]["layout"] == "contiguous" and c["metadata"]["byte_order"] == "big"


def test_info_of_a_file_or_group_lists_the_tree(cli, cremi):
    p = cremi["path"]
    tree = json.loads(cli("info", p, "--json").stdout)
    assert tree["kind"] == "group" and tree["format"] == "hdf5"

    def find(node, path):
        if node["path"] == path:
            return node
        for c in node.get("children", []):
            got = find(c, path)
            if got:
                return got
        return None

    raw = find(tree, "/volumes/raw")
    assert raw["shape"] == list(SHAPE) and raw["chunks"] == list(CHUNKS)
    assert raw["dtype"] == "uint8" and raw["codecs"] == "shuffle | gzip(level=4)"
    with h5py.File(p, "r") as f:
        assert raw["stored_bytes"] == f["volumes/raw"].id.get_storage_size()
    assert find(tree, "/bad/compound")["dtype"] == "compound (not readable)"
    assert find(tree, "/dtypes/contiguous/be_u2")["chunks"] is None
    sub = json.loads(cli("info", p + "/volumes/labels", "--json").stdout)
    assert [c["path"] for c in sub["children"]] == ["/volumes/labels/neuron_ids"]
    text = cli("info", p + "/volumes").stdout
    assert "neuron_ids  uint64 [13,37,41]  chunks [5,16,16]  shuffle | gzip(level=4)" in text


@pytest.mark.parametrize("direct", ["1", "0"])
def test_export_of_every_dtype_and_layout_equals_h5py(cli, cremi, tmp_path, monkeypatch, direct):
    # Both ways volbatch reads chunks: decoded by volbatch outside the HDF5 lock (default),
    # and by libhdf5's H5Dread.
    monkeypatch.setenv("VOLBATCH_HDF5_DIRECT_CHUNKS", direct)
    for name, expected in cremi["arrays"].items():
        out = tmp_path / (name.replace("/", "_") + ".npy")
        cli("export", cremi["path"] + "/" + name, out)
        got = np.load(out)
        assert got.dtype == expected.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(got, expected, err_msg=name)
    roi = tmp_path / "roi.npy"
    cli("export", cremi["path"] + "/volumes/raw", roi, "--roi", "3:11,7:30,1:40")
    np.testing.assert_array_equal(np.load(roi), cremi["arrays"]["volumes/raw"][3:11, 7:30, 1:40])


def test_the_file_is_found_by_its_signature_not_its_name(cli, cremi, tmp_path):
    renamed = tmp_path / "sample_A.data"
    shutil.copy(cremi["path"], renamed)
    out = tmp_path / "raw.npy"
    cli("export", str(renamed) + "/volumes/raw", out)
    np.testing.assert_array_equal(np.load(out), cremi["arrays"]["volumes/raw"])


def test_import_and_copy_to_zarr_and_n5_equal_h5py(cli, cremi, tmp_path):
    zarr = pytest.importorskip("zarr")
    src = cremi["path"] + "/volumes/labels/neuron_ids"
    cli("import", src, tmp_path / "out.zarr" / "ids", "--format", "zarr2")
    np.testing.assert_array_equal(zarr.open(str(tmp_path / "out.zarr" / "ids"), "r")[:],
                                  cremi["arrays"]["volumes/labels/neuron_ids"])
    cli("copy", cremi["path"] + "/volumes/raw", tmp_path / "out.n5" / "raw", "--chunks",
        "8,8,8")
    n5 = zarr.open(zarr.N5Store(str(tmp_path / "out.n5")), "r")["raw"]
    np.testing.assert_array_equal(n5[:], cremi["arrays"]["volumes/raw"])
    # The default chunks of a copy are the HDF5 dataset's.
    cli("copy", cremi["path"] + "/volumes/raw", tmp_path / "c.zarr" / "raw")
    assert json.loads(cli("info", tmp_path / "c.zarr" / "raw", "--json").stdout)["chunks"] == \
        list(CHUNKS)


def test_a_job_reads_hdf5_like_its_zarr_copy(cli, cremi, tmp_path):
    src = cremi["path"] + "/volumes/raw"
    ident = eu.write_job(tmp_path / "id.toml", src, tmp_path / "o.zarr" / "id",
                         {"type": "identity"}, chunks=(8, 16, 16))
    cli("run", ident, "--quiet", "--threads", "2")
    exported = tmp_path / "id.npy"
    cli("export", tmp_path / "o.zarr" / "id", exported)
    np.testing.assert_array_equal(np.load(exported), cremi["arrays"]["volumes/raw"])
    # A gaussian over the HDF5 input and over its Zarr copy: bit-identical outputs.
    cli("copy", src, tmp_path / "copy.zarr" / "raw")
    op = {"type": "gaussian", "sigma": [1.0, 2.0, 2.0]}
    a = eu.write_job(tmp_path / "a.toml", src, tmp_path / "o.zarr" / "a", op, dtype="float32",
                     chunks=(8, 16, 16))
    b = eu.write_job(tmp_path / "b.toml", tmp_path / "copy.zarr" / "raw",
                     tmp_path / "o.zarr" / "b", op, dtype="float32", chunks=(8, 16, 16))
    cli("run", a, "--quiet", "--threads", "2")
    cli("run", b, "--quiet", "--threads", "2")
    cli("export", tmp_path / "o.zarr" / "a", tmp_path / "a.npy")
    cli("export", tmp_path / "o.zarr" / "b", tmp_path / "b.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_a_job_pyramid_takes_the_voxel_size_from_resolution(cli, cremi, tmp_path):
    # 40 x 4 x 4 nm: the first levels halve y and x only (z is already the coarsest).
    job = eu.write_job(tmp_path / "p.toml", cremi["path"] + "/volumes/raw",
                       tmp_path / "p.zarr" / "raw", {"type": "identity"}, chunks=(8, 16, 16),
                       output_extra={"pyramid": 2})
    cli("run", job, "--quiet", "--threads", "2")
    s1 = json.loads(cli("info", tmp_path / "p.zarr" / "raw_s1", "--json").stdout)
    s2 = json.loads(cli("info", tmp_path / "p.zarr" / "raw_s2", "--json").stdout)
    assert s1["shape"] == [13, 19, 21] and s2["shape"] == [13, 10, 11]


def test_volbatch_open_reads_like_h5py(cremi):
    volbatch = pytest.importorskip("volbatch")
    ds = volbatch.open(cremi["path"] + "/volumes/labels/neuron_ids")
    expected = cremi["arrays"]["volumes/labels/neuron_ids"]
    np.testing.assert_array_equal(ds[:], expected)
    np.testing.assert_array_equal(ds[2:9, 5:33, 3:40], expected[2:9, 5:33, 3:40])


def test_sampler_windows_equal_h5py_slices(cremi):
    volbatch = pytest.importorskip("volbatch")
    pytest.importorskip("torch")
    from volbatch.torch import WindowDataset
    p = cremi["path"]
    sources = [{"path": p + "/volumes/raw", "name": "raw"},
               {"path": p + "/volumes/labels/neuron_ids", "name": "labels", "kind": "label"}]
    s = volbatch.WindowSampler(sources, (4, 12, 12), seed=3, with_info=True)
    raw, ids = cremi["arrays"]["volumes/raw"], cremi["arrays"]["volumes/labels/neuron_ids"]
    for _ in range(30):
        w = s.next()
        sl = w["info"]["slices"]
        np.testing.assert_array_equal(w["raw"], raw[sl["raw"]])
        np.testing.assert_array_equal(w["labels"], ids[sl["labels"]])
    ds = WindowDataset(sources, (4, 12, 12), seed=5, length=8, with_info=True)
    for w in ds:
        pos = [int(v) for v in w["info"]["position"]]
        sl = tuple(slice(a, a + n) for a, n in zip(pos, (4, 12, 12)))
        np.testing.assert_array_equal(np.asarray(w["raw"]), raw[sl])


@pytest.mark.parametrize("inner,needle", [
    ("/bad/compound", "compound"), ("/bad/vlen", "variable-length"),
    ("/bad/string", "string"), ("/bad/vstring", "variable-length string"),
    ("/bad/scalar", "scalar"), ("/bad/lzf", "lzf"), ("/volumes/nope", "no /volumes/nope"),
    ("/nope/raw", "no /nope"), ("/volumes", "group")])
def test_bad_datasets_give_one_line_naming_file_and_path(cli, cremi, tmp_path, inner, needle):
    p = cremi["path"]
    for args in (("export", p + inner, tmp_path / "x.npy"),
                 ("copy", p + inner, tmp_path / "x.zarr" / "a")):
        line = eu.one_line_error(cli(*args, check=False), p, needle)
        assert inner.split("/")[1] in line
    assert not (tmp_path / "x.npy").exists()


def test_a_file_that_is_not_hdf5(cli, tmp_path):
    notes = tmp_path / "notes.h5"
    notes.write_text("plain text, not HDF5\n" * 40)
    eu.one_line_error(cli("info", str(notes) + "/volumes/raw", check=False), str(notes),
                      "/volumes/raw", "not an HDF5 file")
    eu.one_line_error(cli("export", str(notes) + "/volumes/raw", tmp_path / "x.npy", check=False),
                      str(notes), "/volumes/raw")


def test_writes_into_hdf5_are_refused(cli, cremi, tmp_path):
    p = cremi["path"]
    before = os.path.getmtime(p)
    eu.one_line_error(cli("create", p + "/volumes/new", "--shape", "4,4,4", "--dtype", "uint8",
                          check=False), p + "/volumes/new", "does not write")
    eu.one_line_error(cli("copy", p + "/volumes/raw", tmp_path / "new.h5" / "raw", check=False),
                      str(tmp_path / "new.h5" / "raw"), "does not write")
    job = eu.write_job(tmp_path / "w.toml", p + "/volumes/raw", str(tmp_path / "o.hdf5") + "/x",
                       {"type": "identity"}, chunks=(8, 16, 16))
    p2 = cli("run", job, "--quiet", check=False)
    assert p2.returncode != 0 and "does not write" in p2.stderr, p2.stderr
    assert not (tmp_path / "new.h5").exists() and not (tmp_path / "o.hdf5").exists()
    assert os.path.getmtime(p) == before


@pytest.mark.parametrize("direct", ["1", "0"])
def test_a_corrupt_chunk_gives_one_line_naming_file_and_dataset(cli, cremi, tmp_path,
                                                                 monkeypatch, direct):
    monkeypatch.setenv("VOLBATCH_HDF5_DIRECT_CHUNKS", direct)
    bad = str(tmp_path / "corrupt.hdf")
    shutil.copy(cremi["path"], bad)
    with h5py.File(bad, "r") as f:
        info = f["volumes/raw"].id.get_chunk_info(5)
    with open(bad, "r+b") as f:  # the middle of chunk 5's deflate stream
        f.seek(info.byte_offset + info.size // 2)
        f.write(b"\xff" * 16)
    # Many chunks, read on several threads: still one line (libhdf5 prints nothing itself).
    p = cli("export", bad + "/volumes/raw", tmp_path / "x.npy", "--threads", "2", check=False)
    eu.one_line_error(p, bad, "/volumes/raw")
