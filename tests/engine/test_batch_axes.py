"""Jobs over arrays with batch axes (issue 20): `[input] axes = "tczyx"` or the axes of the
input's OME-Zarr multiscales. The operator runs over every index of the batch axes, the output
keeps them, and each index's output is byte-identical to running that index as its own job;
in every input format (Zarr v2, Zarr v3, N5, HDF5), resumable after SIGKILL like any job, and
the bad `axes` strings and layouts fail with one line naming the field."""
import json
import os
import subprocess

import numpy as np
import pytest

import engine_util as eu

CHUNKS = (16, 16, 16)
OP = {"type": "gaussian", "sigma": [1.5, 1.0, 1.0]}


def export(volbatch, path, tmp_path, name):
    out = tmp_path / f"{name}.npy"
    volbatch("export", path, out)
    return np.load(out)


def job(tmp_path, name, input, output, axes=None, op=OP, chunks=CHUNKS, fmt="zarr2",
        tiling=None, output_extra=None, channels=None):
    path = eu.write_job(tmp_path / f"{name}.toml", input, output, op, "float32", chunks,
                        tiling=tiling or {"block": [16, 32, 32]}, format=fmt,
                        output_extra=output_extra)
    text = open(path).read()
    extra = (f'axes = "{axes}"\n' if axes else "") + ("channels = true\n" if channels else "")
    with open(path, "w") as f:
        f.write(text.replace(f'path = "{input}"\n', f'path = "{input}"\n{extra}', 1))
    return path


@pytest.fixture(scope="module")
def four_d(volbatch, tmp_path_factory):
    """A (3, 24, 40, 48) uint8 "tzyx" array in Zarr v2 (t chunks of 2, so a chunk spans two
    time points), and each time point's own job output (the reference)."""
    d = tmp_path_factory.mktemp("batch4")
    a = np.stack([eu.em_volume((24, 40, 48), seed=s) for s in range(3)])
    src = eu.write_zarr2(a, d / "in.zarr/raw", (2, 16, 16, 16))
    refs = []
    for t in range(3):
        one = eu.write_zarr2(a[t], d / f"t{t}.zarr/raw", CHUNKS)
        volbatch("run", job(d, f"t{t}", one, d / f"ref.zarr/t{t}"), "--quiet")
        refs.append(eu.dataset_files(d / f"ref.zarr/t{t}"))
    return {"d": d, "a": a, "src": src, "refs": refs,
            "ref": np.stack([eu.read_zarr2(d / f"ref.zarr/t{t}") for t in range(3)])}


def chunk_files_of_index(files, t):
    """The chunk files of time point t of a Zarr v2 output with "/" keys, keyed as the
    per-index job's (z/y/x)."""
    prefix = f"{t}/"
    return {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}


def test_each_index_is_byte_identical_to_its_own_job(volbatch, four_d, tmp_path):
    out = tmp_path / "out.zarr/y"
    volbatch("run", job(tmp_path, "j", four_d["src"], out, "tzyx",
                        output_extra={"codec": "zstd:1"}), "--quiet")
    got = eu.read_zarr2(out)
    assert got.shape == (3, 24, 40, 48)
    np.testing.assert_array_equal(got, four_d["ref"])
    # The chunks themselves: a batched job writes each index's chunks as its own job would.
    meta = json.loads((tmp_path / "out.zarr/y/.zarray").read_text())
    assert meta["chunks"] == [1, 16, 16, 16]
    # The output names its axes (xarray's convention in Zarr v2).
    attrs = json.loads((tmp_path / "out.zarr/y/.zattrs").read_text())
    assert attrs["_ARRAY_DIMENSIONS"] == ["t", "z", "y", "x"]
    files = eu.dataset_files(out)
    sep = meta.get("dimension_separator", ".")
    for t in range(3):
        mine = {k.replace(sep, "/"): v for k, v in files.items() if not k.startswith(".")}
        ref = {k.replace(sep, "/"): v for k, v in four_d["refs"][t].items()
               if not k.startswith(".")}
        eu.assert_same_files(chunk_files_of_index(mine, t), ref, f"t={t}")
    st = volbatch.status(eu.jobdir_of(out))
    # 3 time points x (24/16 -> 2) x (40/32 -> 2) x (48/32 -> 2) blocks.
    assert st["blocks_total"] == 3 * 2 * 2 * 2 == st["blocks_done"]
    # The report maps all 24 blocks (time points stacked along z) and previews time point 0.
    volbatch("report", eu.jobdir_of(out))
    page = open(os.path.join(eu.jobdir_of(out), "report.html")).read()
    assert page.count('<img class="preview"') == 2, page[:2000]


@pytest.mark.parametrize("fmt", ["zarr3", "n5", "hdf5"])
def test_every_input_format(volbatch, four_d, tmp_path, fmt):
    if fmt == "hdf5":
        import h5py
        src = tmp_path / "in.h5"
        with h5py.File(src, "w") as f:
            f.create_dataset("volumes/raw", data=four_d["a"], chunks=(1, 8, 16, 16),
                             compression="gzip", shuffle=True)
        src = f"{src}/volumes/raw"
        out_fmt = "zarr3"
    else:
        src = tmp_path / f"in.{'n5' if fmt == 'n5' else 'zarr'}/raw"
        volbatch("copy", four_d["src"], src, "--format", fmt)
        out_fmt = fmt
    out = tmp_path / f"out.{'n5' if out_fmt == 'n5' else 'zarr'}/y"
    volbatch("run", job(tmp_path, "j", src, out, "tzyx", fmt=out_fmt), "--quiet")
    np.testing.assert_array_equal(export(volbatch, out, tmp_path, "got"), four_d["ref"])


def test_a_2d_operator_over_every_index(volbatch, tmp_path):
    a = np.stack([eu.em_volume((1, 40, 48), seed=s)[0] for s in range(4)])
    src = eu.write_zarr2(a, tmp_path / "in.zarr/raw", (1, 16, 16))
    op = {"type": "gaussian", "sigma": [1.0, 2.0]}
    out = tmp_path / "out.zarr/y"
    volbatch("run", job(tmp_path, "j", src, out, "tyx", op, (16, 16), tiling={"block": [32, 32]}),
             "--quiet")
    got = eu.read_zarr2(out)
    for t in range(4):
        one = eu.write_zarr2(a[t], tmp_path / f"t{t}.zarr/raw", (16, 16))
        volbatch("run", job(tmp_path, f"t{t}", one, tmp_path / f"ref.zarr/t{t}", None, op,
                            (16, 16), tiling={"block": [32, 32]}), "--quiet")
        np.testing.assert_array_equal(got[t], eu.read_zarr2(tmp_path / f"ref.zarr/t{t}"))


def five_d(tmp_path):
    """A (2, 2, 16, 32, 40) "tczyx" array: 2 time points of 2 channels."""
    a = np.stack([np.stack([eu.em_volume((16, 32, 40), seed=10 * t + c) for c in range(2)])
                  for t in range(2)])
    return a, eu.write_zarr2(a, tmp_path / "in.zarr/raw", (1, 2, 16, 16, 16))


def test_five_axes_with_channels_resume_after_sigkill(volbatch, tmp_path):
    a, src = five_d(tmp_path)
    out = tmp_path / "out.zarr/y"
    # Channels pass through the gaussian (smoothed each on its own), so the output is 5-D.
    tiling = {"block": [16, 16, 16]}
    path = job(tmp_path, "j", src, out, "tczyx", tiling=tiling)
    # strace kills the run at its 6th rename (a chunk or a ledger's companion file), partway.
    p = subprocess.run(["strace", "-f", "-o", "/dev/null", "-e",
                        "inject=rename:signal=SIGKILL:when=6", volbatch.exe, "run", path,
                        "--threads", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    assert p.returncode != 0, "the run was not killed"
    done, _, _ = eu.read_ledgers(eu.jobdir_of(out))
    assert len(done) < 12, done
    volbatch("run", path, "--quiet")
    got = eu.read_zarr2(out)
    assert got.shape == (2, 2, 16, 32, 40)
    whole = tmp_path / "whole.zarr/y"
    volbatch("run", job(tmp_path, "w", src, whole, "tczyx", tiling=tiling), "--quiet")
    eu.assert_same_files(eu.dataset_files(out), eu.dataset_files(whole), "resumed vs whole")
    for t in range(2):
        one = eu.write_zarr2(a[t], tmp_path / f"t{t}.zarr/raw", (2, 16, 16, 16))
        ref = tmp_path / f"ref.zarr/t{t}"
        volbatch("run", job(tmp_path, f"t{t}", one, ref, None, tiling=tiling, channels=True),
                 "--quiet")
        np.testing.assert_array_equal(got[t], eu.read_zarr2(ref))


def test_axes_from_ome_zarr_multiscales(volbatch, tmp_path):
    a, _ = five_d(tmp_path)
    import zarr
    g = zarr.open_group(str(tmp_path / "img.zarr"), mode="w")
    g.create_dataset("0", data=a, chunks=(1, 2, 16, 16, 16))
    g.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"},
                 {"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 1.0, 0.5, 0.25, 0.25]}]}]}]
    out = tmp_path / "out.zarr/y"
    volbatch("run", job(tmp_path, "ome", tmp_path / "img.zarr/0", out), "--quiet")
    given = tmp_path / "given.zarr/y"
    volbatch("run", job(tmp_path, "given", tmp_path / "img.zarr/0", given, "tczyx"), "--quiet")
    assert eu.read_zarr2(out).shape == a.shape
    np.testing.assert_array_equal(eu.read_zarr2(out), eu.read_zarr2(given))
    # Written into the job directory's spec: `volbatch work` resolves them without the metadata.
    assert eu.job_json(eu.jobdir_of(out))["spec"]["input"]["axes"] == "tczyx"


@pytest.mark.parametrize("axes,needle", [
    ("tzyx", "[input] axes: \"tzyx\" has 4 letters; the input has 5 axes"),
    ("ttzyx", "repeats the letter t"),
    ("tcabx", "names no spatial axes"),
    ("ctzyx", "puts t after c"),
])
def test_bad_axes_name_the_field(volbatch, tmp_path, axes, needle):
    _, src = five_d(tmp_path)
    p = volbatch("run", job(tmp_path, "bad", src, tmp_path / "o.zarr/y", axes), check=False)
    eu.one_line_error(p, "bad.toml", needle)


def test_batch_chunks_and_pyramids_are_refused(volbatch, tmp_path):
    _, src = five_d(tmp_path)
    p = volbatch("run", job(tmp_path, "c", src, tmp_path / "o.zarr/y", "tczyx",
                            chunks=(2, 2, 16, 16, 16)), check=False)
    eu.one_line_error(p, "c.toml: [output] chunks", "batch axes (t) must be pieces of 1")
    p = volbatch("run", job(tmp_path, "p", src, tmp_path / "p.zarr/y", "tczyx",
                            output_extra={"pyramid": 1}), check=False)
    eu.one_line_error(p, "p.toml: [output] pyramid", "batch axes")
    assert not os.path.exists(tmp_path / "o.zarr/y") and not os.path.exists(tmp_path / "p.zarr/y")


@pytest.mark.parametrize("fmt", ["zarr3", "n5", "hdf5"])
def test_five_axes_in_every_format_equal_zarr2(volbatch, tmp_path, fmt):
    a, src = five_d(tmp_path)
    ref = tmp_path / "ref.zarr/y"
    volbatch("run", job(tmp_path, "ref", src, ref, "tczyx"), "--quiet")
    if fmt == "hdf5":
        import h5py
        other = tmp_path / "in.h5"
        with h5py.File(other, "w") as f:
            f.create_dataset("raw", data=a, chunks=(1, 1, 8, 16, 16), compression="gzip")
        other, out_fmt = f"{other}/raw", "zarr3"
    else:
        other = tmp_path / f"in5.{'n5' if fmt == 'n5' else 'zarr'}/raw"
        volbatch("copy", src, other, "--format", fmt)
        out_fmt = fmt
    out = tmp_path / f"out.{'n5' if out_fmt == 'n5' else 'zarr'}/y"
    volbatch("run", job(tmp_path, "j", other, out, "tczyx", fmt=out_fmt), "--quiet")
    got = export(volbatch, out, tmp_path, "got")
    assert got.shape == a.shape
    np.testing.assert_array_equal(got, eu.read_zarr2(ref))
    if out_fmt == "zarr3":
        meta = json.loads((out / "zarr.json").read_text())
        assert meta["dimension_names"] == ["t", "c", "z", "y", "x"]


def test_batch_axes_under_the_processes_executor(volbatch, four_d, tmp_path):
    out = tmp_path / "out.zarr/y"
    volbatch("run", job(tmp_path, "j", four_d["src"], out, "tzyx"), "--executor", "processes",
             "--workers", 3, "--threads", 1, "--quiet")
    np.testing.assert_array_equal(eu.read_zarr2(out), four_d["ref"])
    assert volbatch.status(eu.jobdir_of(out))["blocks_done"] == 24
