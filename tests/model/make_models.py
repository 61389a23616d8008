#!/usr/bin/python3
"""Writes the tiny TorchScript models the `torch` operator's tests use, into DIR.

    /usr/bin/python3 tests/model/make_models.py DIR

Generated at test time (not committed); needs only python3-torch (1.13, CPU). Deterministic:
the same files' behaviour on every run (weights from fixed seeds). Every model takes float32
[B, C_in, Z, Y, X] and returns float32 [B, C_out, Z', Y', X']. After writing, each file is
loaded back with torch.jit.load and run on [1, C_in, 32, 64, 64] to check the documented
shape and values (the script exits 1 if one does not match). Takes ~2 s.

Files (input [B, C_in, Z, Y, X] -> output):

same.pt             1 -> 1, [B, 1, Z, Y, X]: y = 2 x + 1 (a 1x1x1 Conv3d, weight 2, bias 1).
                    Pointwise: blended windows equal the whole volume up to float rounding.
valid.pt            1 -> 1, [B, 1, Z-8, Y-8, X-8]: y = x[..., 4:-4, 4:-4, 4:-4] * 1, a "valid"
                    model ([32, 64, 64] -> [24, 56, 56]).
superres.pt         1 -> 1, [B, 1, Z, 2Y, 2X]: nearest upsampling, scale (1, 2, 2):
                    y = x.repeat_interleave(2, -1).repeat_interleave(2, -2).
superres_z4.pt      1 -> 1, [B, 1, 4Z, Y, X]: nearest upsampling, scale (4, 1, 1)
                    (anisotropic): y = x.repeat_interleave(4, -3).
classes3.pt         1 -> 3, [B, 3, Z, Y, X]: scores -(x - c_k)^2, c = (0.165, 0.495, 0.825):
                    argmax = 0 for x < 0.33, 1 for 0.33 < x < 0.66, 2 for x > 0.66
                    (normalised units).
conv3.pt            1 -> 1, [B, 1, Z, Y, X]: three 3x3x3 Conv3d with zero ("same") padding,
                    1 -> 4 -> 4 -> 1 channels, ReLU between, weights from torch.manual_seed(3)
                    (the class Conv3 below). Receptive field 7^3: with a crop (halo) of 3 per
                    side, windowed output equals the whole-volume output in the interior.
upconv.pt           1 -> 1, [B, 1, Z, 2Y, 2X]: a 3x3x3 Conv3d 1 -> 4 ("same") + ReLU, then a
                    ConvTranspose3d 4 -> 1 with kernel = stride = (1, 2, 2): an upsampling head,
                    scale (1, 2, 2); weights from torch.manual_seed(4) (class UpConv).
sum2.pt             2 -> 1, [B, 1, Z, Y, X]: y = x[:, 0:1] + 2 x[:, 1:2] (a channel-axis input).
raises.pt           1 -> 1: forward always raises RuntimeError("boom from the model"); the dry
                    run must report it. LibTorch's what() is a multi-line TorchScript traceback
                    whose last line is "builtins.RuntimeError: boom from the model".
raises_late.pt      1 -> 1, [B, 1, Z, Y, X]: y = x, but raises RuntimeError("boom from the
                    model") when any input value is > 100 (after normalisation): the dry run on
                    zeros passes and only the block holding such a value fails.
wrong_shape.pt      1 -> 1, [B, 1, Z, Y/2, X/2] (floor): an undeclared 2x downscale in y and x
                    (avg_pool3d (1, 2, 2)), for the geometry error message; with scale
                    [1, 0.5, 0.5] a flip-equivariant downscaling model.
mean3.pt            1 -> 1, [B, 1, Z, Y, X]: the 3x3x3 mean (avg_pool3d, stride 1, zero padding
                    counted): flip-equivariant along every axis (for tta).
asym.pt             1 -> 1, [B, 1, Z, Y, X]: one 3x3x3 Conv3d, zero ("same") padding, weights
                    and bias from torch.manual_seed(6): not flip-equivariant along any axis.
asym_valid.pt       1 -> 1, [B, 1, Z-2, Y-2, X-2]: one 3x3x3 Conv3d without padding ("valid"),
                    weights from torch.manual_seed(7): not flip-equivariant, but each output
                    voxel depends only on its 3^3 input neighbourhood, so the mean of its 8
                    flipped predictions does not depend on where windows fall.
down.pt             1 -> 1, [B, 1, Z, Y/2, X/2]: a Conv3d with kernel = stride = (1, 2, 2),
                    weights from torch.manual_seed(8): a downscaling model, scale (1, 1/2, 1/2),
                    not flip-equivariant along y and x.
not_torchscript.pt  torch.save of a Conv3d's state_dict: a zip pickle, not TorchScript
                    (torch.jit.load: "PytorchStreamReader failed locating file constants.pkl").
garbage.pt          4096 seeded random bytes, not a zip archive
                    (torch.jit.load: "PytorchStreamReader failed reading zip archive").
with_rdf/           same.pt plus a bioimage.io-style rdf.yaml (model RDF 0.4 field names):
                    inputs[0] axes "bczyx", shape (the window) [1, 1, 16, 32, 32], float32;
                    outputs[0] halo [0, 0, 2, 4, 4] (crop 2, 4, 4 per side).
bad_rdf/            same.pt plus an rdf.yaml with 2-D axes "bcyx" (4-entry shape and halo):
                    for the rdf error message naming the file and field.
"""

import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Same(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(2.0)
            self.conv.bias.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Valid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 4:-4, 4:-4, 4:-4] * 1.0


class SuperRes(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(2, -1).repeat_interleave(2, -2)


class SuperResZ4(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(4, -3)


class Classes3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([-(x - 0.165) ** 2, -(x - 0.495) ** 2, -(x - 0.825) ** 2], dim=1)


class Conv3(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.c1 = nn.Conv3d(1, 4, 3, padding=1)
        self.c2 = nn.Conv3d(4, 4, 3, padding=1)
        self.c3 = nn.Conv3d(4, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c3(F.relu(self.c2(F.relu(self.c1(x)))))


class UpConv(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.c1 = nn.Conv3d(1, 4, 3, padding=1)
        self.up = nn.ConvTranspose3d(4, 1, (1, 2, 2), stride=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(F.relu(self.c1(x)))


class Mean3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(x, 3, stride=1, padding=1)


class SeededConv(nn.Module):
    def __init__(self, seed: int, kernel, stride, padding):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv3d(1, 1, kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Sum2(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0:1] + 2.0 * x[:, 1:2]


class Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 0:
            raise RuntimeError("boom from the model")
        return x


class RaisesLate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x > 100.0).any()):
            raise RuntimeError("boom from the model")
        return x


class WrongShape(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(x, (1, 2, 2))


WITH_RDF = """\
# A bioimage.io-style model description (model RDF 0.4 field names) for the test model
# same.pt (y = 2 x + 1): the window and halo the torch operator should read from it.
format_version: 0.4.10
type: model
name: same-with-rdf
description: "Test fixture: y = 2 x + 1 (1x1x1 Conv3d), with a declared window and halo."
authors:
  - name: volbatch tests
license: MIT
documentation: README.md
tags: [test, 3d, pointwise]
timestamp: "2024-01-01T00:00:00"
inputs:
  - name: raw
    axes: bczyx
    data_type: float32
    shape: [1, 1, 16, 32, 32]
outputs:
  - name: out
    axes: bczyx
    data_type: float32
    shape: [1, 1, 16, 32, 32]
    halo: [0, 0, 2, 4, 4]
weights:
  torchscript:
    source: same.pt
    pytorch_version: "1.13"
"""

BAD_RDF = """\
# Test fixture: an rdf.yaml the torch operator must refuse (2-D axes for a 3-D job).
format_version: 0.4.10
type: model
name: bad-rdf
inputs:
  - name: raw
    axes: bcyx
    data_type: float32
    shape: [1, 1, 64, 64]
outputs:
  - name: out
    axes: bcyx
    data_type: float32
    shape: [1, 1, 64, 64]
    halo: [0, 0, 4, 4]
weights:
  torchscript:
    source: same.pt
"""


def _fail(msg):
    print(f"make_models.py: {msg}", file=sys.stderr)
    sys.exit(1)


def _expect_shape(name, y, shape):
    if list(y.shape) != list(shape):
        _fail(f"{name}: output {list(y.shape)}, expected {list(shape)}")


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    models = {
        "same.pt": Same(), "valid.pt": Valid(), "superres.pt": SuperRes(),
        "superres_z4.pt": SuperResZ4(), "classes3.pt": Classes3(), "conv3.pt": Conv3(),
        "upconv.pt": UpConv(), "sum2.pt": Sum2(), "raises.pt": Raises(),
        "raises_late.pt": RaisesLate(), "wrong_shape.pt": WrongShape(), "mean3.pt": Mean3(),
        "asym.pt": SeededConv(6, 3, 1, 1), "asym_valid.pt": SeededConv(7, 3, 1, 0),
        "down.pt": SeededConv(8, (1, 2, 2), (1, 2, 2), 0),
    }
    for name, m in models.items():
        torch.jit.script(m.eval()).save(os.path.join(out, name))

    # Not TorchScript: a state_dict pickle, and random bytes.
    torch.save(nn.Conv3d(1, 1, 1).state_dict(), os.path.join(out, "not_torchscript.pt"))
    g = torch.Generator().manual_seed(5)
    with open(os.path.join(out, "garbage.pt"), "wb") as f:
        f.write(bytes(torch.randint(0, 256, (4096,), generator=g, dtype=torch.uint8).tolist()))

    for folder, rdf in (("with_rdf", WITH_RDF), ("bad_rdf", BAD_RDF)):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
        shutil.copyfile(os.path.join(out, "same.pt"), os.path.join(out, folder, "same.pt"))
        with open(os.path.join(out, folder, "rdf.yaml"), "w") as f:
            f.write(rdf)

    # Check: load every model back and run it on a [1, C, 32, 64, 64] ramp in [0, 1).
    def load(name):
        return torch.jit.load(os.path.join(out, name))

    n = 32 * 64 * 64
    x = (torch.arange(n, dtype=torch.float32) / n).reshape(1, 1, 32, 64, 64)
    with torch.no_grad():
        y = load("same.pt")(x)
        _expect_shape("same.pt", y, [1, 1, 32, 64, 64])
        if not torch.allclose(y, 2 * x + 1, atol=1e-6):
            _fail("same.pt: y != 2 x + 1")
        y = load("valid.pt")(x)
        _expect_shape("valid.pt", y, [1, 1, 24, 56, 56])
        if not torch.equal(y, x[..., 4:-4, 4:-4, 4:-4]):
            _fail("valid.pt: not the crop")
        y = load("superres.pt")(x)
        _expect_shape("superres.pt", y, [1, 1, 32, 128, 128])
        if not torch.equal(y[..., ::2, ::2], x) or not torch.equal(y[..., 1::2, 1::2], x):
            _fail("superres.pt: not nearest upsampling")
        _expect_shape("superres_z4.pt", load("superres_z4.pt")(x), [1, 1, 128, 64, 64])
        y = load("classes3.pt")(x)
        _expect_shape("classes3.pt", y, [1, 3, 32, 64, 64])
        want = (x >= 0.33).long() + (x >= 0.66).long()
        near = ((x - 0.33).abs() < 1e-5) | ((x - 0.66).abs() < 1e-5)
        if not torch.equal(y.argmax(1, keepdim=True)[~near], want[~near]):
            _fail("classes3.pt: argmax boundaries are not 0.33 and 0.66")
        y = load("conv3.pt")(x)
        _expect_shape("conv3.pt", y, [1, 1, 32, 64, 64])
        if not torch.allclose(y, Conv3()(x), atol=1e-6):
            _fail("conv3.pt: weights differ from Conv3()")
        _expect_shape("upconv.pt", load("upconv.pt")(x), [1, 1, 32, 128, 128])
        x2 = torch.cat([x, 1 - x], dim=1)
        y = load("sum2.pt")(x2)
        _expect_shape("sum2.pt", y, [1, 1, 32, 64, 64])
        if not torch.allclose(y, x + 2 * (1 - x)):
            _fail("sum2.pt: y != x0 + 2 x1")
        for name in ("raises.pt", "raises_late.pt"):
            m = load(name)
            try:
                m(x * 1000 if name == "raises_late.pt" else x)
                _fail(f"{name}: did not raise")
            except torch.jit.Error as e:  # a RuntimeError subclass
                if "boom from the model" not in str(e):
                    _fail(f"{name}: raised {e!r}")
        if not torch.equal(load("raises_late.pt")(torch.zeros(1, 1, 8, 8, 8)),
                           torch.zeros(1, 1, 8, 8, 8)):
            _fail("raises_late.pt: not the identity below 100")
        _expect_shape("wrong_shape.pt", load("wrong_shape.pt")(x), [1, 1, 32, 32, 32])
        y = load("mean3.pt")(x)
        _expect_shape("mean3.pt", y, [1, 1, 32, 64, 64])
        if not torch.allclose(y[..., 1:-1, 1:-1, 1:-1],
                              x.unfold(2, 3, 1).unfold(3, 3, 1).unfold(4, 3, 1).mean((-3, -2, -1)),
                              atol=1e-6):
            _fail("mean3.pt: not the 3x3x3 mean")
        _expect_shape("asym.pt", load("asym.pt")(x), [1, 1, 32, 64, 64])
        _expect_shape("asym_valid.pt", load("asym_valid.pt")(x), [1, 1, 30, 62, 62])
        _expect_shape("down.pt", load("down.pt")(x), [1, 1, 32, 32, 32])
        r = torch.rand(1, 1, 8, 16, 16, generator=torch.Generator().manual_seed(9))
        for name in ("asym.pt", "asym_valid.pt", "down.pt"):
            m = load(name)
            for dims in ([3], [4]) if name == "down.pt" else ([2], [3], [4]):
                if torch.allclose(m(r.flip(dims)).flip(dims), m(r), atol=1e-3):
                    _fail(f"{name}: flip-equivariant along {dims}")
        _expect_shape("with_rdf/same.pt", load("with_rdf/same.pt")(x[..., :16, :32, :32]),
                      [1, 1, 16, 32, 32])
    for name in ("not_torchscript.pt", "garbage.pt"):
        try:
            load(name)
            _fail(f"{name}: torch.jit.load accepted it")
        except RuntimeError:
            pass
    print(f"wrote {len(models) + 2} models and 2 rdf folders to {out}")


if __name__ == "__main__":
    main()
