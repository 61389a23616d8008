"""Bad input to `volbatch run`: each a one-line error naming the field, exit status 1, before any
block runs (no job directory, no output). A failing block (a corrupt input chunk) is reported
with its region and the chunk key, the other blocks finish, and a plain rerun redoes only the
failed blocks."""
import json
import os

import numpy as np
import pytest
import scipy.ndimage as ndi

import engine_util as eu

SHAPE = (70, 90, 110)
CHUNKS = (32, 32, 32)


@pytest.fixture(scope="module")
def inputs(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("errors")
    raw = eu.em_volume(SHAPE, seed=9)
    eu.write_zarr2(raw, d / "in.zarr/raw", CHUNKS)
    probs = np.random.default_rng(1).random((3, 20, 30, 40)).astype(np.float32)
    eu.write_zarr2(probs, d / "in.zarr/probs", (3, 16, 16, 16))
    return {"dir": d, "raw": raw}


BASE = {"input": "in.zarr/raw", "operator": {"type": "gaussian", "sigma": 1.0}, "dtype": "float32",
        "chunks": CHUNKS, "tiling": {"block": [64, 64, 64]}}

# id, changes to BASE (None removes), extra raw TOML lines per table, what the message names
BAD = [
    ("overlap_equals_window", {"tiling": {"window": [16, 16, 16], "overlap": [16, 4, 4]}}, {},
     ["[tiling] overlap"]),
    ("overlap_exceeds_window", {"operator": {"type": "identity"},
                                "tiling": {"window": [16, 16, 16], "overlap": [4, 20, 4],
                                           "blend": "gaussian"}}, {}, ["[tiling] overlap"]),
    ("block_not_multiple_of_chunks", {"tiling": {"block": [48, 64, 64]}}, {},
     ["[tiling] block", "[48, 64, 64]"]),
    ("missing_input", {"input": "in.zarr/nothere"}, {}, ["[input] path", "nothere"]),
    ("argmax_to_float32", {"input": "in.zarr/probs", "operator": {"type": "argmax"},
                           "input_channels": True}, {}, ["[output] dtype", "float32"]),
    ("threshold_to_float16", {"operator": {"type": "threshold", "value": 3}, "dtype": "float16"}, {},
     ["[output] dtype", "float16"]),
    ("mean_to_bool", {"operator": {"type": "downsample", "factor": 2}, "dtype": "bool"}, {},
     ["[output] dtype", "bool"]),
    ("typo_in_operator", {}, {"operator": "sigmaa = 2.0"}, ["[operator] sigmaa"]),
    ("typo_in_tiling", {}, {"tiling": "overlpa = [1, 1, 1]"}, ["[tiling] overlpa"]),
    ("typo_in_run", {}, {"run": "thread = 2"}, ["[run] thread"]),
    ("typo_in_output", {}, {"output": "chunk = [32, 32, 32]"}, ["[output] chunk"]),
    ("typo_in_input", {}, {"input": "pth = \"x\""}, ["[input] pth"]),
    ("unknown_table", {}, {"tilling": "block = [64, 64, 64]"}, ["[tilling]"]),
    ("bad_padding", {"tiling": {"padding": "mirror"}}, {}, ["[tiling] padding", "mirror"]),
    ("bad_blend", {"tiling": {"blend": "cubic"}}, {}, ["[tiling] blend", "cubic"]),
    ("bad_order", {}, {"run": "order = \"random\""}, ["[run] order", "random"]),
    ("bad_memory", {}, {"run": "memory = \"lots\""}, ["[run] memory", "lots"]),
    ("unknown_operator", {"operator": {"type": "gausian"}}, {}, ["[operator] type", "gausian"]),
    ("window_not_multiple_of_scale", {"operator": {"type": "upsample", "factor": [1, 2, 2]},
                                      "dtype": None, "tiling": {"window": [16, 15, 16]}}, {},
     ["[tiling] window"]),
    ("filter_unfit_for_dtype", {"codec": "packbits+zstd:1"}, {},
     ["[output] codec", "numcodecs.packbits", "packbits needs bool elements, got <f4"]),
    ("bitround_on_integers", {"operator": {"type": "identity"}, "dtype": "uint8",
                              "codec": "bitround:3+zstd:1"}, {},
     ["[output] codec", "numcodecs.bitround", "bitround needs float elements, got |u1"]),
    ("unknown_filter", {"codec": "deltaa+zstd:1"}, {}, ["[output] codec", "unknown codec \"deltaa\""]),
]


def write_bad_job(d, name, change, raw_lines):
    spec = {**BASE, **change}
    tables = {
        "input": {"path": str(d / spec["input"]),
                  "channels": True if spec.get("input_channels") else None},
        "output": {"path": str(d / f"{name}.zarr/o"), "dtype": spec["dtype"],
                   "chunks": list(spec["chunks"]), "codec": spec.get("codec", "zstd:1")},
        "operator": spec["operator"],
        "tiling": spec["tiling"],
        "run": {"threads": 2},
    }
    text = eu.toml_text(tables)
    for table, line in raw_lines.items():
        if table in tables:
            text = text.replace(f"[{table}]\n", f"[{table}]\n{line}\n")
        else:
            text += f"\n[{table}]\n{line}\n"
    path = d / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name,change,raw_lines,needles", BAD, ids=[b[0] for b in BAD])
def test_bad_job_is_one_line_naming_the_field_and_creates_nothing(volbatch, inputs, name, change,
                                                                  raw_lines, needles):
    d = inputs["dir"]
    job = write_bad_job(d, name, change, raw_lines)
    line = eu.one_line_error(volbatch("run", job, "--quiet", check=False), *needles)
    assert f"{name}.toml" in line, line  # and the job file, like every other job error
    assert not (d / f"{name}.zarr").exists(), "the refused run created its output"
    assert not os.path.exists(eu.jobdir_of(d / f"{name}.zarr/o")), "... or its job directory"


def test_output_with_filters_reads_in_zarr_python(volbatch, inputs, tmp_path):
    """A job's [output] codec may name numcodecs filters; the Zarr v2 output is what
    zarr-python reads with the same filters."""
    import zarr
    out = tmp_path / "out.zarr/o"
    job = eu.write_job(tmp_path / "j.toml", inputs["dir"] / "in.zarr/raw", out,
                       {"type": "identity"}, "uint8", CHUNKS, codec="delta+shuffle+zstd:1",
                       tiling={"block": [64, 64, 64]}, format="zarr2")
    volbatch("run", job, "--quiet")
    z = zarr.open_array(str(out), mode="r")
    assert [f.get_config() for f in z.filters] == [
        {"id": "delta", "dtype": "|u1", "astype": "|u1"}, {"id": "shuffle", "elementsize": 1}]
    assert np.array_equal(z[...], inputs["raw"])


@pytest.mark.parametrize("layout,needle", [
    (["--shape", "70,90,110", "--chunks", "16,32,32", "--dtype", "float32"], "chunks"),
    (["--shape", "70,90,110", "--chunks", "32,32,32", "--dtype", "uint8"], "dtype"),
    (["--shape", "70,90,111", "--chunks", "32,32,32", "--dtype", "float32"], "shape"),
])
def test_output_existing_with_another_layout_is_refused(volbatch, inputs, tmp_path, layout, needle):
    out = tmp_path / "out.zarr/o"
    volbatch("create", out, *layout)
    before = eu.dataset_files(out)
    job = eu.write_job(tmp_path / "j.toml", inputs["dir"] / "in.zarr/raw", out, BASE["operator"],
                       "float32", CHUNKS, tiling=BASE["tiling"])
    line = eu.one_line_error(volbatch("run", job, "--quiet", check=False), "[output] path",
                             "different layout", needle)
    assert str(out) in line
    assert not os.path.exists(eu.jobdir_of(out))
    eu.assert_same_files(before, eu.dataset_files(out), "the existing output")


def test_output_existing_without_a_job_needs_force(volbatch, inputs, tmp_path):
    out = tmp_path / "out.zarr/o"
    volbatch("create", out, "--shape", "70,90,110", "--chunks", "32,32,32", "--dtype", "float32")
    job = eu.write_job(tmp_path / "j.toml", inputs["dir"] / "in.zarr/raw", out, BASE["operator"],
                       "float32", CHUNKS, tiling=BASE["tiling"])
    eu.one_line_error(volbatch("run", job, "--quiet", check=False), "[output] path", "--force")
    assert not os.path.exists(eu.jobdir_of(out))
    volbatch("run", job, "--quiet", "--force")
    st = volbatch.status(eu.jobdir_of(out))
    assert st["blocks_done"] == st["blocks_total"] == 8


def test_corrupt_input_chunk_fails_its_blocks_only_and_a_rerun_redoes_them(volbatch, inputs,
                                                                            tmp_path):
    raw = eu.write_zarr2(inputs["raw"], tmp_path / "in.zarr/raw", CHUNKS)
    key, chunk_index = "0.1.3", (0, 1, 3)  # voxels [0:32, 32:64, 96:110]
    path = os.path.join(raw, key)
    with open(path, "rb") as f:
        good = f.read()
    with open(path, "r+b") as f:
        f.truncate(len(good) // 2)
    sigma, radius = 1.0, 4  # scipy's radius: int(4 * sigma + 0.5)
    block = [64, 64, 64]
    out = tmp_path / "out.zarr/o"
    job = eu.write_job(tmp_path / "j.toml", raw, out, {"type": "gaussian", "sigma": sigma},
                       "float32", CHUNKS, tiling={"block": block}, run={"threads": 2},
                       format="zarr2")
    # The blocks whose input (their region grown by the radius) reaches the chunk.
    total = int(np.prod(eu.grid_shape(SHAPE, block)))
    cb = [i * c for i, c in zip(chunk_index, CHUNKS)]
    ce = [min(b + c, s) for b, c, s in zip(cb, CHUNKS, SHAPE)]
    expected = set()
    for b in range(total):
        lo, hi = eu.block_box(b, SHAPE, block)
        if all(l - radius < e and h + radius > s for l, h, s, e in zip(lo, hi, cb, ce)):
            expected.add(b)
    assert 0 < len(expected) < total

    p = volbatch("run", job, "--quiet", check=False)
    line = eu.one_line_error(p, key, "failed")
    regions = {b: "[" + ", ".join(f"{l}:{h}" for l, h in zip(*eu.block_box(b, SHAPE, block))) + "]"
               for b in expected}
    assert any(r in line for r in regions.values()), (line, regions)
    st = volbatch.status(eu.jobdir_of(out))
    assert st["failed_blocks"] == sorted(expected), st
    assert st["blocks_done"] == total - len(expected), st
    assert st["blocks_failed"] == len(expected)
    with open(eu.jobdir_of(out) + "/summary.json") as f:
        summary = json.load(f)
    reported = {f["block"] for f in summary["failures"]}
    assert reported == expected and all(key in f["error"] for f in summary["failures"]), summary

    want = ndi.gaussian_filter(inputs["raw"].astype(np.float32), sigma, mode="reflect",
                               truncate=4.0, output=np.float32)
    got = eu.read_zarr2(out)
    for b in set(range(total)) - expected:  # the other blocks are done, and right
        lo, hi = eu.block_box(b, SHAPE, block)
        sl = tuple(slice(l, h) for l, h in zip(lo, hi))
        assert np.abs(got[sl] - want[sl]).max() <= 1e-4, b

    with open(path, "wb") as f:
        f.write(good)
    volbatch("run", job, "--quiet")
    with open(eu.jobdir_of(out) + "/summary.json") as f:
        summary = json.load(f)
    assert summary["blocks_done"] == len(expected), summary
    assert summary["blocks_skipped"] == total - len(expected), summary
    st = volbatch.status(eu.jobdir_of(out))
    assert (st["blocks_done"], st["blocks_failed"], st["failed_blocks"]) == (total, 0, []), st
    got = eu.read_zarr2(out)
    assert np.abs(got - want).max() <= 1e-4
