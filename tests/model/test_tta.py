"""`tta = "flips"` in `type = "torch"` jobs: the mean of a window's flipped predictions. Checked
against the job without tta for flip-equivariant models, against the mean computed here with
torch for models that are not, across blocks and threads, and the bad-input messages."""
import itertools
import json

import numpy as np
import pytest
import torch

from test_torch import make_input, one_line_error, read, run_job, volume

NORM = "normalize = { range = [0, 255] }"


def normalised(a):
    # What the operator feeds the model: (x - lo) / (hi - lo), computed in double, as float32.
    return (a.astype(np.float64) * (1.0 / 255)).astype(np.float32)


def flip_mean(model_path, x, dims=(2, 3, 4)):
    """The mean over every flip f of `dims` of f(model(f(x))), in float64: x is [Z, Y, X]."""
    m = torch.jit.load(str(model_path))
    t = torch.from_numpy(x)[None, None]
    total = None
    with torch.no_grad():
        for k in range(len(dims) + 1):
            for f in itertools.combinations(dims, k):
                f = list(f)
                y = m(t.flip(f) if f else t)
                y = (y.flip(f) if f else y).double()
                total = y if total is None else total + y
    return (total / 2 ** len(dims))[0, 0].numpy()


def assert_close_relative(got, want, rel=1e-6):
    # Within rel of the output's magnitude (a voxel's own value may be near 0).
    assert got.shape == want.shape
    err = float(np.abs(got.astype(np.float64) - want).max())
    assert err <= rel * float(np.abs(want).max()), (err, float(np.abs(want).max()))


@pytest.mark.parametrize("model,geometry,shape", [
    ("mean3.pt", "window = [16, 32, 32]", (40, 70, 90)),
    ("superres.pt", "window = [8, 16, 16]\nscale = [1, 2, 2]", (20, 30, 40)),
    ("wrong_shape.pt", "window = [16, 32, 32]\nscale = [1, 0.5, 0.5]", (32, 64, 96)),
])
def test_equivariant_model_unchanged_by_flips(volbatch, models, tmp_path, model, geometry, shape):
    # A model that commutes with every flip predicts the same for each: the mean of the 8 is
    # the prediction without tta, up to float rounding (the order of a pooling's sums).
    a = volume(shape, seed=11)
    make_input(volbatch, tmp_path, a)
    op = f'model = "{models}/{model}"\n{geometry}\n{NORM}'
    tiling = 'overlap = [4, 8, 8]\nblend = "gaussian"'
    run_job(volbatch, tmp_path, op, output="plain.zarr/y", name="plain.toml", tiling=tiling)
    run_job(volbatch, tmp_path, op + '\ntta = "flips"', output="tta.zarr/y", name="tta.toml",
            tiling=tiling)
    plain = read(volbatch, tmp_path / "plain.zarr/y", tmp_path)
    tta = read(volbatch, tmp_path / "tta.zarr/y", tmp_path)
    assert tta.shape == plain.shape
    np.testing.assert_allclose(tta, plain, rtol=1e-6, atol=1e-6)
    ident = json.loads((tmp_path / "tta.zarr/y.volbatch/job.json").read_text())["identity"]
    assert ident["operator"]["tta"] == "flips"
    assert ident["operator"]["tta_axes"] == ["z", "y", "x"]


@pytest.mark.parametrize("model,geometry,shape,axes", [
    ("asym.pt", "window = [16, 32, 40]", (16, 32, 40), None),
    ("asym.pt", "window = [16, 32, 40]", (16, 32, 40), ["x", "y"]),
    ("upconv.pt", "window = [8, 16, 24]\nscale = [1, 2, 2]", (8, 16, 24), None),
    ("down.pt", "window = [8, 32, 48]\nscale = [1, 0.5, 0.5]", (8, 32, 48), None),
])
def test_one_window_is_the_mean_of_its_flips(volbatch, models, tmp_path, model, geometry, shape,
                                              axes):
    # One window covers the volume (no padding, constant blend weights): the output is the mean
    # of the model's flipped-back predictions on flipped inputs, which torch computes here.
    a = volume(shape, seed=12)
    make_input(volbatch, tmp_path, a)
    op = f'model = "{models}/{model}"\n{geometry}\n{NORM}\ntta = "flips"'
    if axes:
        op += "\ntta_axes = [" + ", ".join(f'"{n}"' for n in axes) + "]"
    run_job(volbatch, tmp_path, op, tiling='blend = "constant"')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    dims = tuple(2 + "zyx".index(n) for n in sorted(axes, key="zyx".index)) if axes else (2, 3, 4)
    want = flip_mean(models / model, normalised(a), dims)
    assert_close_relative(got, want)
    # The flips matter for this model: without tta the output is far from the mean.
    plain = flip_mean(models / model, normalised(a), ())
    assert np.abs(plain - want).max() > 1e-3 * np.abs(want).max()


def test_blended_windows_of_a_valid_model(volbatch, models, tmp_path):
    # asym_valid.pt is a 3x3x3 "valid" convolution: each output voxel's mean over the flips
    # depends only on its neighbourhood, so the blended windows give the whole volume's mean
    # (the volume edge-padded by one voxel, as the job's padding = "edge" does).
    a = volume((40, 70, 90), seed=13)
    make_input(volbatch, tmp_path, a)
    run_job(volbatch, tmp_path,
            f'model = "{models}/asym_valid.pt"\nwindow = [16, 32, 32]\noutput_window = [14, 30, 30]'
            f'\n{NORM}\ntta = "flips"',
            tiling='overlap = [2, 6, 6]\nblend = "gaussian"\npadding = "edge"')
    got = read(volbatch, tmp_path / "out.zarr/y", tmp_path)
    want = flip_mean(models / "asym_valid.pt", np.pad(normalised(a), 1, mode="edge"))
    assert_close_relative(got, want)


def test_tta_output_independent_of_blocks_and_threads(volbatch, models, tmp_path):
    a = volume((32, 64, 64), seed=14)
    make_input(volbatch, tmp_path, a)
    outs = []
    for i, (block, threads, order) in enumerate([("[16, 32, 32]", 1, "lattice"),
                                                 ("[32, 64, 32]", 2, "shuffle"),
                                                 ("[16, 64, 64]", 2, "shuffle")]):
        # batch = 3: a window's 8 flips straddle batches shared with other windows.
        run_job(volbatch, tmp_path,
                f'model = "{models}/asym.pt"\nwindow = [16, 32, 32]\n{NORM}\nbatch = 3\n'
                'tta = "flips"',
                output=f"inv{i}.zarr/y", name=f"inv{i}.toml",
                tiling=f"overlap = [4, 8, 8]\nblock = {block}",
                run=f'threads = {threads}\norder = "{order}"')
        outs.append(read(volbatch, tmp_path / f"inv{i}.zarr/y", tmp_path))
    for o in outs[1:]:
        assert o.tobytes() == outs[0].tobytes()


def test_resume_with_other_tta_is_a_changed_job(volbatch, models, tmp_path):
    a = volume((16, 32, 32), seed=15)
    make_input(volbatch, tmp_path, a)
    op = f'model = "{models}/asym.pt"\nwindow = [16, 32, 32]\n{NORM}'
    run_job(volbatch, tmp_path, op)
    e = one_line_error(run_job(volbatch, tmp_path, op + '\ntta = "flips"', check=False))
    assert "the job changed" in e and 'operator.tta: was absent, now "flips"' in e, e
    run_job(volbatch, tmp_path, op + '\ntta = "flips"', args=("--force",))
    e = one_line_error(run_job(volbatch, tmp_path, op + '\ntta = "flips"\ntta_axes = ["y", "x"]',
                               check=False))
    assert 'operator.tta_axes: was ["z","y","x"], now ["y","x"]' in e, e


@pytest.mark.parametrize("extra,field,needle", [
    ('tta = "rotate90"', "[operator] tta:", '"rotate90" is not one of none, flips'),
    ('tta = "flips"\ntta_axes = ["y", "w"]', "[operator] tta_axes:",
     '"w" is not an axis of this volume (z, y, x)'),
    ('tta_axes = ["y", "x"]', "[operator] tta_axes:", 'needs tta = "flips"'),
])
def test_bad_tta_keys(volbatch, models, tmp_path, extra, field, needle):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path,
                               f'model = "{models}/same.pt"\nwindow = [16, 32, 32]\n{extra}',
                               check=False))
    assert field in e and needle in e, e
    assert not (tmp_path / "out.zarr/y").exists()


@pytest.mark.parametrize("geometry,field,needle", [
    # A flip along z of one-slice windows would repeat every prediction for nothing.
    ('model = "{models}/same.pt"\nwindow = [1, 32, 32]\ntta_axes = ["z", "y", "x"]',
     "[operator] tta_axes:",
     '"z": the window is 1 voxel along it'),
    # An output window that does not centre in the input window: a flip would move it.
    ('model = "{models}/valid.pt"\nwindow = [32, 64, 64]\noutput_window = [25, 56, 56]',
     "[operator] window:", "do not centre"),
])
def test_tta_geometry_refused(volbatch, models, tmp_path, geometry, field, needle):
    make_input(volbatch, tmp_path, volume((16, 32, 32)))
    e = one_line_error(run_job(volbatch, tmp_path,
                               geometry.format(models=models) + '\ntta = "flips"',
                               check=False))
    assert field in e and needle in e, e
    assert not (tmp_path / "out.zarr/y").exists()
