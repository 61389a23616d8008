"""`type = "torch"` jobs: geometry (same, valid, super-resolution), channels (softmax, argmax,
selection), normalisation, rdf.yaml, invariance to blocks, and the bad-input messages."""
import json
import os
import re

import numpy as np
import pytest


def volume(shape, seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    v = 128 + 60 * np.sin(z / 5.0 + y / 9.0) * np.cos(x / 7.0) + rng.normal(0, 20, shape)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def make_input(volbatch, tmp_path, a, name="in.zarr/raw"):
    np.save(tmp_path / "in.npy", a)
    volbatch("import", tmp_path / "in.npy", tmp_path / name, "--chunks", "16,32,32")
    return tmp_path / name


def run_job(volbatch, tmp_path, op, output="out.zarr/y", dtype="float32", tiling="",
            extra_output="", check=True, name="job.toml", args=(), run="threads = 2"):
    job = tmp_path / name
    job.write_text(f"""
[input]
path = "{tmp_path / 'in.zarr/raw'}"
[output]
path = "{tmp_path / output}"
dtype = "{dtype}"
chunks = [16, 32, 32]
{extra_output}
[operator]
type = "torch"
{op}
[tiling]
{tiling}
[run]
{run}
""")
    return volbatch("run", job, "--quiet", *args, check=check)


def read(volbatch, path, tmp_path):
    out = tmp_path / (os.path.basename(str(path)) + ".npy")
    if out.exists():
        out.unlink()
    volbatch("export", path, out)
    return np.load(out)


def test_same_model_blended_equals_whole_volume(volbatch, models, tmp_path):
    a = volume((40, 70, 90))
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path, f'model = "{models}/same.pt"\nwindow = [16, 32, 32]',
            tiling='overlap = [4, 8, 8]\nblend = "gaussian"')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    # same.pt is pointwise (2x + 1): every window agrees, so blending gives the whole-volume
    # result up to float rounding of the weighted mean.
    np.testing.assert_allclose(got, 2 * a.astype(np.float32) + 1, rtol=1e-6, atol=1e-4)


def test_valid_model_crops(volbatch, models, tmp_path):
    a = volume((40, 70, 90), seed=1)
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path,
            f'model = "{models}/valid.pt"\nwindow = [32, 64, 64]\noutput_window = [24, 56, 56]')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    np.testing.assert_allclose(got, a.astype(np.float32), atol=1e-4)
    job = json.loads((tmp_path / "out.zarr/y.volbatch/job.json").read_text())
    assert job["identity"]["tiling"]["window"] == [24, 56, 56]


def test_super_resolution_scale(volbatch, models, tmp_path):
    a = volume((20, 30, 40), seed=2)
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path,
            f'model = "{models}/superres.pt"\nwindow = [8, 16, 16]\nscale = [1, 2, 2]',
            dtype="uint8")
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    assert got.shape == (20, 60, 80)
    np.testing.assert_array_equal(got, a.repeat(2, axis=1).repeat(2, axis=2))


def scores(a):
    x = a.astype(np.float32) / 255
    return np.stack([-(x - 0.165) ** 2, -(x - 0.495) ** 2, -(x - 0.825) ** 2])


def test_argmax_labels_after_blending(volbatch, models, tmp_path):
    a = volume((30, 50, 60), seed=3)
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path,
            f'model = "{models}/classes3.pt"\nwindow = [16, 32, 32]\n'
            'normalize = { range = [0, 255] }\noutput = "argmax"',
            dtype="uint8", tiling='overlap = [2, 4, 4]')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    s = scores(a)
    want = s.argmax(axis=0).astype(np.uint8)
    top2 = np.sort(s, axis=0)
    ambiguous = (top2[-1] - top2[-2]) < 1e-5
    assert got.shape == a.shape
    assert np.array_equal(got[~ambiguous], want[~ambiguous])
    assert set(np.unique(got)) <= {0, 1, 2}


def test_softmax_channels_and_selection(volbatch, models, tmp_path):
    a = volume((20, 40, 50), seed=4)
    make_input(volbatch, tmp_path, a)
    op = f'model = "{models}/classes3.pt"\nwindow = [16, 32, 32]\nnormalize = {{ range = [0, 255] }}'
    run_job(volbatch, tmp_path, op + '\noutput = "softmax"')
    p = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    assert p.shape == (3,) + a.shape
    np.testing.assert_allclose(p.sum(axis=0), 1, atol=1e-5)
    s = scores(a)
    e = np.exp(s - s.max(axis=0))
    np.testing.assert_allclose(p, e / e.sum(axis=0), atol=1e-5)
    # One selected channel is stored without a channel axis.
    run_job(volbatch, tmp_path, op + '\nchannels = [2]', output="out.zarr/c2", name="c2.toml")
    c2 = read(volbatch, tmp_path / "out.zarr/c2", tmp_path)
    assert c2.shape == a.shape
    np.testing.assert_allclose(c2, s[2], atol=1e-5)


def test_percentile_normalisation_and_denormalize(volbatch, models, tmp_path):
    a = volume((20, 40, 50), seed=5)
    make_input(volbatch, tmp_path, a)
    # same.pt computes 2x + 1 on the normalised input; denormalize maps it back.
    run_job(volbatch, tmp_path,
            f'model = "{models}/same.pt"\nwindow = [16, 32, 32]\n'
            'normalize = { percentiles = [1, 99] }\ndenormalize = true')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    lo, hi = np.percentile(a, [1, 99])
    x = (a.astype(np.float64) - lo) / (hi - lo)
    np.testing.assert_allclose(got, lo + (2 * x + 1) * (hi - lo), rtol=1e-5, atol=1e-3)
    stats = json.loads((tmp_path / "out.zarr/y.volbatch/stats.json").read_text())
    np.testing.assert_allclose(stats["statistics"]["values"], [lo, hi])


def test_rdf_yaml_gives_window_and_halo(volbatch, models, tmp_path):
    a = volume((30, 50, 60), seed=6)
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path, f'model = "{models}/with_rdf/same.pt"')
    ident = json.loads((tmp_path / "out.zarr/y.volbatch/job.json").read_text())["identity"]
    assert ident["operator"]["window"] == [16, 32, 32]
    assert ident["operator"]["crop"] == [2, 4, 4]
    assert ident["tiling"]["window"] == [12, 24, 24]
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    np.testing.assert_allclose(got, 2 * a.astype(np.float32) + 1, rtol=1e-6, atol=1e-4)


def test_output_independent_of_blocks(volbatch, models, tmp_path):
    a = volume((48, 64, 64), seed=7)
    make_input(volbatch, tmp_path, a)
    outs = []
    for i, (block, order) in enumerate([("[16, 32, 32]", "lattice"), ("[48, 64, 32]", "shuffle"),
                                        ("[32, 32, 64]", "shuffle")]):
        run_job(volbatch, tmp_path,
                f'model = "{models}/classes3.pt"\nwindow = [16, 32, 32]\n'
                'normalize = { range = [0, 255] }\nbatch = 3',
                output=f"inv{i}.zarr/y", name=f"inv{i}.toml",
                tiling=f"overlap = [4, 8, 8]\nblock = {block}",
                run=f'threads = {1 + i % 2}\norder = "{order}"')
        outs.append(read(volbatch, tmp_path / f"inv{i}.zarr/y", tmp_path))
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()


def one_line_error(p):
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.mark.parametrize("name", ["not_torchscript.pt", "garbage.pt"])
def test_not_torchscript(volbatch, models, tmp_path, name):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path, f'model = "{models}/{name}"\nwindow = [16, 32, 32]',
                               check=False))
    assert "[operator] model" in e and name in e and "not a TorchScript file" in e
    assert not (tmp_path / "out.zarr/y").exists()


def test_wrong_output_shape_says_what_to_set(volbatch, models, tmp_path):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path,
                               f'model = "{models}/wrong_shape.pt"\nwindow = [16, 32, 32]',
                               check=False))
    # The batch is the model's default; whatever it is, the message must show both shapes with it.
    m = re.search(r"returned \[(\d+),1,16,16,16\] for input \[\1,1,16,32,32\], "
                  r"the job expects \[\1,1,16,32,32\]", e)
    assert m, e
    assert "scale = [1, 1/2, 1/2]" in e, e
    assert not (tmp_path / "out.zarr/y.volbatch").exists()


def test_model_raising_names_the_block(volbatch, models, tmp_path):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    # The dry run on zeros passes only if the model raises on real data; raises.pt raises
    # always, so it fails before the run with the model's message.
    p = run_job(volbatch, tmp_path, f'model = "{models}/raises.pt"\nwindow = [16, 32, 32]',
                check=False)
    e = one_line_error(p)
    assert "boom from the model" in e, e


def test_cuda_without_cuda(volbatch, models, tmp_path):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path,
                               f'model = "{models}/same.pt"\nwindow = [16, 32, 32]\ndevice = "cuda"',
                               check=False))
    assert "[operator] device" in e and "CUDA" in e, e


def test_geometry_that_does_not_centre(volbatch, models, tmp_path):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path,
                               f'model = "{models}/valid.pt"\nwindow = [32, 64, 64]\n'
                               'output_window = [25, 56, 56]', check=False))
    assert "[operator] window" in e, e


def test_model_raising_on_data_names_the_block(volbatch, models, tmp_path):
    a = np.zeros((32, 32, 32), np.uint8)
    a[20, 5, 5] = 200  # raises_late.pt raises on values > 100: only block 1 holds one
    make_input(volbatch, tmp_path, a)
    p = run_job(volbatch, tmp_path, f'model = "{models}/raises_late.pt"\nwindow = [16, 32, 32]',
                tiling="block = [16, 32, 32]", check=False)
    assert p.returncode == 1
    assert "boom from the model" in p.stderr and "block 1 [16:32, 0:32, 0:32]" in p.stderr, p.stderr
    status = volbatch("status", tmp_path / "out.zarr/y.volbatch", "--json").stdout
    import json as _json
    s = _json.loads(status)
    assert s["blocks_done"] == 1 and s["failed_blocks"] == [1], s


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_on_cpu_runs_close_or_says_why(volbatch, models, tmp_path, precision):
    # Where the CPU build supports the type, the 3-layer conv net's output stays within the
    # type's precision of float32; where it does not, the dry run says so before any block.
    a = volume((16, 32, 64), seed=5)
    make_input(volbatch, tmp_path, a)
    op = f'model = "{models}/conv3.pt"\nwindow = [16, 32, 32]\nnormalize = {{ range = [0, 255] }}'
    run_job(volbatch, tmp_path, op, output="f32.zarr/y")
    p = run_job(volbatch, tmp_path, op + f'\nprecision = "{precision}"', output="low.zarr/y",
                check=False)
    if p.returncode == 0:
        ref = read(volbatch, tmp_path / "f32.zarr/y", tmp_path)
        low = read(volbatch, tmp_path / "low.zarr/y", tmp_path)
        eps = {"bfloat16": 2 ** -8, "float16": 2 ** -11}[precision]
        scale = float(np.abs(ref).max())
        assert np.abs(low - ref).max() <= 8 * eps * scale, (np.abs(low - ref).max(), scale)
        assert np.abs(low - ref).max() > 0, "reduced precision computed exactly in float32?"
    else:
        e = one_line_error(p)
        assert "[operator] model" in e and precision in e, e
        assert not (tmp_path / "low.zarr/y").exists()


@pytest.mark.parametrize("tiling, block", [
    # Overlapping windows straddle blocks and run once per block they touch: 128^3 blocks of
    # this volume run 1176 windows for the lattice's 605 (1.94x), 256 x 128 x 128 ones 980
    # (1.62x), so the block grows past 2^21 voxels (to 16 blocks; one more doubling would
    # leave too few to fill the pipeline).
    ('overlap = [16, 16, 16]\nblend = "gaussian"', [256, 128, 128]),
    # Windows that tile the volume: nothing runs twice, the block stays at 2^21 voxels.
    ("", [128, 128, 128]),
])
def test_default_block_grows_while_fewer_windows_run(volbatch, models, tmp_path, tiling,
                                                     block):
    np.save(tmp_path / "in.npy", np.zeros((256, 512, 512), np.uint8))
    volbatch("import", tmp_path / "in.npy", tmp_path / "in.zarr/raw", "--chunks", "64,64,64")
    run_job(volbatch, tmp_path, f'model = "{models}/same.pt"\nwindow = [64, 64, 64]',
            tiling=tiling, args=("--prepare",))
    job = json.loads((tmp_path / "out.zarr/y.volbatch/job.json").read_text())
    assert job["identity"]["tiling"]["block"] == block


def test_model_over_batch_axes_equals_each_index_as_its_own_job(volbatch, models, tmp_path):
    """Issue 20: a "tczyx" input (2 time points of 2 channels) through a 2 -> 1 channel model;
    each time point's output is byte-identical to the same job over that time point alone."""
    a = np.stack([np.stack([volume((20, 40, 50), seed=10 * t + c) for c in range(2)])
                  for t in range(2)])

    def job(name, data, input_keys, chunks, in_chunks):
        np.save(tmp_path / f"{name}.npy", data)
        volbatch("import", tmp_path / f"{name}.npy", tmp_path / f"{name}.zarr/raw", "--chunks",
                 in_chunks)
        path = tmp_path / f"{name}.toml"
        path.write_text(f"""
[input]
path = "{tmp_path / name}.zarr/raw"
{input_keys}
[output]
path = "{tmp_path / name}.zarr/y"
dtype = "float32"
chunks = {chunks}
[operator]
type = "torch"
model = "{models}/sum2.pt"
window = [16, 32, 32]
[tiling]
overlap = [4, 8, 8]
blend = "gaussian"
[run]
threads = 2
""")
        volbatch("run", path, "--quiet")
        return read(volbatch, tmp_path / f"{name}.zarr/y", tmp_path)

    got = job("all", a, 'axes = "tczyx"', "[1, 16, 32, 32]", "1,2,16,32,32")
    assert got.shape == (2, 20, 40, 50)
    for t in range(2):
        ref = job(f"t{t}", a[t], "channels = true", "[16, 32, 32]", "2,16,32,32")
        np.testing.assert_array_equal(got[t], ref)
        np.testing.assert_allclose(got[t], a[t, 0] + 2.0 * a[t, 1], atol=1e-3)
