#!/usr/bin/python3
"""EM super-resolution with a GAN: train a small 3-D generator (with a discriminator) to turn
anisotropic EM (z 4x coarser than y and x) into isotropic EM from N5/Zarr windows at two
scales, run it over a held-out volume with `volbatch run` (torch operator, scale [4, 1, 1]),
and compare it with volbatch's own linear upsampling.

    PYTHONPATH=build/python /usr/bin/python3 examples/super_resolution.py --out DIR
        [--quick] [--steps N] [--model PT] [--threads 2] [--volbatch build/volbatch]

1. Data, from the demo's synthetic EM generator (models/synthetic_em.py, its clean volume):
   - HR, the isotropic ground truth (8 x 8 x 8 nm voxels): the clean volume blurred by a
     gaussian of sigma 0.5 voxel (a light isotropic PSF, softening the generator's hard blob
     edges), no noise: the metrics measure the reconstruction, not a noise floor;
   - LR, the anisotropic EM (32 x 8 x 8 nm voxels): HR (before rounding) blurred along z by a
     gaussian of sigma 1.5 HR voxels (the section thickness' PSF, an anti-aliasing filter),
     then each 4 consecutive z planes averaged into one, plus gaussian noise of sigma 2 grey
     levels. LR voxel i thus covers HR planes 4i..4i+3 and sits at their centre, HR z =
     4i + 1.5: volbatch's convention (src/volbatch/ops/upsample.cc: output voxel o sits at
     input coordinate (o + 0.5) / 4 - 0.5, the voxel centres aligned; the torch operator's
     output window starts at 4 x its input window's start), so the linear baseline is fair and
     a model's HR planes 4i..4i+3 are the ones under LR plane i.
   Blurs are computed on the region grown by 8 HR voxels (a whole number of LR planes), so
   the volumes are functions of position; the noise is seeded by (seed, region). A training
   region (seed 2) and a held-out one (seed 1, never seen in training) are written as LR in
   N5 (gzip, "pixelResolution" [8, 8, 32] nm, x-y-z) and HR in Zarr v2 (zstd, OME-NGFF
   multiscales with scale [8, 8, 8] nm).
2. Training: volbatch.torch.WindowDataset over HR (the reference grid, windows [48, 48, 48])
   and LR with scale [1/4, 1, 1] (LR coordinate = HR coordinate / 4 in z): the sampler puts
   windows at z positions that are multiples of 4, so each LR window [12, 48, 48] is exactly
   the decimation of its HR window. Checked once before training: the LR window differs from
   the decimation of the z-blurred HR window by the noise only (about 2 grey levels RMS), and
   by more than 10x that one LR plane off. Flips (of every axis, z flipping both windows
   together) and 90-degree y-x rotations are shared by both sources.
3. Models (a generator and a discriminator, trained in turn at every step):
   - generator, y = linear(x) + f(x): linear(x) is the linear z-interpolation (align_corners
     False, volbatch's convention), f three 3x3x3 convolutions on the LR grid 1-12-12-24
     (ReLU), the 24 channels shuffled into 6 channels at 4 z planes each (a sub-pixel
     convolution along z: channel 6 k + j -> plane 4 i + j of feature k), ReLU, and one 3x3x3
     convolution 6-1 on the HR grid, starting near zero (the generator starts at the
     baseline). Receptive field: 4 LR planes in z, 4 voxels in y-x, so crop [16, 4, 4] HR
     voxels makes every kept voxel independent of the window's edges;
   - discriminator (PatchGAN): 3x3x3 convolutions with strides (1, 2, 2), 2, 2 and
     1-8-16-32 channels, leaky ReLU, and a 3x3x3 convolution to one score per patch, on the
     cropped HR windows.
   Losses: generator L1 + 1e-3 x LSGAN ((D(G(x)) - 1)^2); discriminator LSGAN
   ((D(HR) - 1)^2 + D(G(x))^2) / 2. Adam, one-cycle learning rate (peak 3e-3; --quick
   6e-3); batches of 4 windows.
4. Export: torch.jit.script -> DIR/upscale.pt with DIR/rdf.yaml (input window, halo, and
   outputs[0].shape {reference_tensor, scale [1, 1, 4, 1, 1], offset}, which volbatch reads).
5. Inference: a job file (torch operator, scale [4, 1, 1], LR windows [16, 64, 64] -> HR
   [64, 64, 64], crop [16, 4, 4], context 4 LR voxels, gaussian blending, normalize by
   [0, 255], denormalize) run by `volbatch run` over the whole held-out LR volume; `volbatch
   run --prepare` first, so that a model with more than one output channel is refused before
   any block runs (volbatch accepts one, writing [C, z, y, x]). The baseline: a job with
   volbatch's upsample operator (factor [4, 1, 1], method "linear") over the same LR volume.
   Both outputs must have the HR shape (LR z x 4).
6. Metrics against the held-out HR: PSNR and SSIM (domain_translation.py's: 3-D, gaussian
   window sigma 1.5, data range 255) of the model's output and of the linear baseline, to
   DIR/metrics.json as a list of {"metric", "model", "baseline", "higher_is_better"}; times
   to DIR/timings.json.

--quick: small volumes and 60 steps (9-80 s on 2 shared cores), what the test suite runs.
--model PT runs an existing TorchScript model instead of training one.
"""
import argparse
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import (check_args, fail, image_metrics, prepare_one_channel, start,  # noqa: E402
                    to_u8, volbatch, write_results)

FACTOR = 4              # LR z voxels are FACTOR HR voxels deep
MARGIN = 8              # blurs are computed on the region grown by this much (HR voxels)
SIGMA_HR = 0.5          # HR: isotropic gaussian blur (HR voxels)
SIGMA_Z = 1.5           # LR: gaussian blur along z before decimation (HR voxels)
NOISE_LR = 2.0          # LR: additive gaussian noise (grey levels)
HR_VOXEL = (8, 8, 8)    # nm, z y x
LR_VOXEL = (8 * FACTOR, 8, 8)
CONTEXT = 4             # generator's receptive radius: LR planes in z, voxels in y-x
CROP = (FACTOR * CONTEXT, CONTEXT, CONTEXT)  # HR output voxels dropped per side
TRAIN_WINDOW = (48, 48, 48)  # HR (reference grid); LR [12, 48, 48]
RUN_WINDOW = (16, 64, 64)    # LR model input; HR output [64, 64, 64]
ADV_WEIGHT = 1e-3


# ---- data ------------------------------------------------------------------------------------

def degrade(hr):
    """LR without its noise: a gaussian blur along z, then the mean of each FACTOR planes
    (LR plane i at HR z 4 i + 1.5, volbatch's voxel-centre convention)."""
    from scipy.ndimage import gaussian_filter1d
    z = gaussian_filter1d(np.asarray(hr, np.float64), SIGMA_Z, axis=0, mode="nearest")
    return z.reshape(z.shape[0] // FACTOR, FACTOR, *z.shape[1:]).mean(axis=1)


def region(begin, shape, seed):
    """(LR, HR) uint8 arrays of one region (HR coordinates; z a multiple of FACTOR)."""
    from scipy.ndimage import gaussian_filter
    from synthetic_em import synthetic_em
    m = MARGIN
    big = synthetic_em(tuple(b - m for b in begin), tuple(s + 2 * m for s in shape), seed=seed,
                       noise_sigma=0).astype(np.float64)
    hr = gaussian_filter(big, SIGMA_HR, mode="nearest")
    lr = degrade(hr)[m // FACTOR:(m + shape[0]) // FACTOR, m:m + shape[1], m:m + shape[2]]
    rng_key = [int(seed) & 0xFFFFFFFF] + [int(b) & 0xFFFFFFFF for b in begin] + [0x5E]
    lr = to_u8(lr + np.random.default_rng(rng_key).normal(0, NOISE_LR, lr.shape))
    return lr, to_u8(hr[m:m + shape[0], m:m + shape[1], m:m + shape[2]])


def write_pair(dir_, name, shape, seed):
    """Writes LR (N5, gzip) and HR (Zarr v2, zstd) with their voxel sizes; returns their
    dataset paths and arrays."""
    import numcodecs
    import zarr
    lr, hr = region((0, 0, 0), shape, seed)
    n5 = os.path.join(dir_, f"{name}.n5")
    g = zarr.group(store=zarr.N5Store(n5))
    d = g.create_dataset("lr", data=lr, chunks=(16, 64, 64), compressor=numcodecs.GZip(5),
                         overwrite=True)
    d.attrs["pixelResolution"] = {"dimensions": list(LR_VOXEL[::-1]), "unit": "nm"}
    root = os.path.join(dir_, f"{name}.zarr")
    g = zarr.open_group(root, mode="w")
    g.create_dataset("hr", data=hr, chunks=(64, 64, 64), compressor=numcodecs.Zstd(3))
    g.attrs["multiscales"] = [{
        "version": "0.4", "name": name,
        "axes": [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"],
        "datasets": [{"path": "hr", "coordinateTransformations": [
            {"type": "scale", "scale": list(HR_VOXEL)}]}]}]
    return os.path.join(n5, "lr"), os.path.join(root, "hr"), lr, hr


def sources(lr_path, hr_path):
    """WindowDataset sources: HR is the reference grid, LR has 1/4 of its voxels in z."""
    return [{"path": hr_path, "name": "hr", "normalize": [0, 255]},
            {"path": lr_path, "name": "lr", "normalize": [0, 255],
             "scale": [f"1/{FACTOR}", 1, 1]}]


def check_alignment(lr_path, hr_path):
    """One window (no augmentation): the LR window must be the decimation of the HR window
    at the same position, up to LR's noise; one LR plane off it must be clearly worse."""
    import volbatch as vb
    s = vb.WindowSampler(sources(lr_path, hr_path), TRAIN_WINDOW, seed=7, with_info=True,
                         threads=0)
    w = s.next()
    pz = w["info"]["position"][0]
    if pz % FACTOR:
        fail(f"WindowSampler: window at z {pz}, not a multiple of {FACTOR}")
    pred, lr = degrade(w["hr"] * 255.0), w["lr"] * 255.0
    inner = slice(2, -2)  # the z blur reads beyond the window near its ends
    rms = float(np.sqrt(np.mean((pred[inner] - lr[inner]) ** 2)))
    off = float(np.sqrt(np.mean((pred[2:-3] - lr[3:-2]) ** 2)))
    print(f"alignment: HR window at {tuple(w['info']['position'])}, LR window "
          f"{tuple(lr.shape)}: decimated HR vs LR {rms:.2f} grey levels RMS (noise "
          f"{NOISE_LR}), {off:.2f} one LR plane off", flush=True)
    if not rms < 2 * NOISE_LR or not off > 2 * rms:
        fail(f"sources: LR windows are not aligned with HR windows ({rms:.2f} grey levels "
             f"RMS aligned, {off:.2f} one plane off)")


# ---- the models ------------------------------------------------------------------------------

def make_generator(c=12, d=6):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Upscale3d(nn.Module):
        """y = linear(x) + f(x), [B, 1, z, y, x] -> [B, 1, 4 z, y, x]: linear z-interpolation
        plus three 3x3x3 convolutions on the LR grid, a sub-pixel shuffle along z and one
        3x3x3 convolution on the HR grid."""

        def __init__(self, c: int, d: int, factor: int):
            super().__init__()
            self.factor = factor
            self.d = d
            self.c1 = nn.Conv3d(1, c, 3, padding=1)
            self.c2 = nn.Conv3d(c, c, 3, padding=1)
            self.c3 = nn.Conv3d(c, factor * d, 3, padding=1)
            self.c4 = nn.Conv3d(d, 1, 3, padding=1)

        def forward(self, x):
            h = F.relu(self.c1(x))
            h = F.relu(self.c2(h))
            h = F.relu(self.shuffle_z(self.c3(h)))
            return self.upsample_z(x) + self.c4(h)

        def upsample_z(self, x):
            """Linear interpolation along z with voxel centres aligned (volbatch's
            convention: HR plane o at LR coordinate (o + 0.5) / 4 - 0.5, the edge plane
            repeated)."""
            return F.interpolate(x, size=[x.shape[2] * self.factor, x.shape[3], x.shape[4]],
                                 mode="trilinear", align_corners=False)

        def shuffle_z(self, h):
            """[B, 4 d, z, y, x] -> [B, d, 4 z, y, x]: channel 4 k + j of LR plane i becomes
            channel k of HR plane 4 i + j (a sub-pixel convolution along z)."""
            b, c, z, y, x = h.shape
            f = self.factor
            return h.reshape(b, c // f, f, z, y, x).permute(0, 1, 3, 2, 4, 5).reshape(
                b, c // f, z * f, y, x)

    m = Upscale3d(c, d, FACTOR)
    with torch.no_grad():  # f starts near 0: the generator starts at linear interpolation
        m.c4.weight.mul_(0.1)
        m.c4.bias.zero_()
    return m


def make_discriminator():
    import torch.nn as nn
    act = nn.LeakyReLU(0.2)
    return nn.Sequential(nn.Conv3d(1, 8, 3, stride=(1, 2, 2), padding=1), act,
                         nn.Conv3d(8, 16, 3, stride=2, padding=1), act,
                         nn.Conv3d(16, 32, 3, stride=2, padding=1), act,
                         nn.Conv3d(32, 1, 3, padding=1))


def train_forward(m, x):
    """Upscale3d.forward with models/train_denoiser.py's conv3d whose backward is two forward
    convolutions (the same gradients, several times faster with LibTorch 1.13 on the CPU);
    the exported model uses plain conv3d with the same weights."""
    import torch.nn.functional as F
    from train_denoiser import _Conv3dSame
    conv = _Conv3dSame.apply
    h = F.relu(conv(x, m.c1.weight, m.c1.bias))
    h = F.relu(conv(h, m.c2.weight, m.c2.bias))
    h = F.relu(m.shuffle_z(conv(h, m.c3.weight, m.c3.bias)))
    return m.upsample_z(x) + conv(h, m.c4.weight, m.c4.bias)


RDF = """\
# bioimage.io-style model description (model RDF 0.4 field names), written by
# examples/super_resolution.py with the weights.
format_version: 0.4.10
type: model
name: volbatch-upscale-z4
description: >-
  Small 3-D GAN generator for EM super-resolution along z: anisotropic EM (z 4x coarser,
  32 x 8 x 8 nm) in, isotropic EM (8 x 8 x 8 nm) out. Linear z-interpolation plus three
  3x3x3 convolutions on the input grid (1-{c}-{c}-{c4}), a sub-pixel shuffle along z and one
  3x3x3 convolution ({d}-1). Trained for {steps} steps (L1 + {adv} LSGAN) on windows of
  volbatch's synthetic EM generator.
authors:
  - name: volbatch
license: MIT
tags: [super-resolution, gan, isotropic, 3d, electron-microscopy, synthetic, volbatch]
timestamp: "2024-01-01T00:00:00"
inputs:
  - name: lr
    description: anisotropic EM grey levels / 255, voxels [{lz}, {ly}, {lx}] nm (z, y, x)
    axes: bczyx
    data_type: float32
    data_range: [0.0, 1.0]
    shape: [1, 1, {w[0]}, {w[1]}, {w[2]}]
    preprocessing:
      - name: scale_linear
        kwargs: {{axes: zyx, gain: 0.00392156862745098, offset: 0.0}}
outputs:
  - name: hr
    description: isotropic EM grey levels / 255, voxels [{hz}, {hy}, {hx}] nm (4x the input in z)
    axes: bczyx
    data_type: float32
    shape:
      reference_tensor: lr
      scale: [1, 1, {f}, 1, 1]
      offset: [0, 0, 0, 0, 0]
    halo: [0, 0, {crop[0]}, {crop[1]}, {crop[2]}]
    postprocessing:
      - name: scale_linear
        kwargs: {{axes: zyx, gain: 255.0, offset: 0.0}}
weights:
  torchscript:
    source: upscale.pt
    sha256: {sha256}
    pytorch_version: "{torch_version}"
"""

JOB_OUTPUT = """[input]
path = "{input}"
[output]
path = "{output}"
format = "zarr2"
dtype = "uint8"
chunks = [64, 64, 64]
codec = "zstd:3"
"""

TORCH_OP = """[operator]
type = "torch"
model = "{model}"
scale = [{f}, 1, 1]
window = [{w[0]}, {w[1]}, {w[2]}]
crop = [{crop[0]}, {crop[1]}, {crop[2]}]
normalize = {{ range = [0, 255] }}
denormalize = true
[tiling]
blend = "gaussian"
"""

LINEAR_OP = """[operator]
type = "upsample"
factor = [{f}, 1, 1]
method = "linear"
"""


def export(a, work, gen):
    import torch
    pt = os.path.join(work, "upscale.pt")
    torch.jit.script(gen).save(pt)
    sha = hashlib.sha256(open(pt, "rb").read()).hexdigest()
    with open(os.path.join(work, "rdf.yaml"), "w") as f:
        f.write(RDF.format(c=a.channels, c4=FACTOR * (a.channels // 2), d=a.channels // 2,
                           steps=a.steps, adv=ADV_WEIGHT, w=RUN_WINDOW, crop=CROP, f=FACTOR,
                           lz=LR_VOXEL[0], ly=LR_VOXEL[1], lx=LR_VOXEL[2], hz=HR_VOXEL[0],
                           hy=HR_VOXEL[1], hx=HR_VOXEL[2], sha256=sha,
                           torch_version=".".join(torch.__version__.split(".")[:2])))
    return pt


def train(a, work, lr_path, hr_path):
    import torch
    import torch.nn.functional as F
    from volbatch.torch import WindowDataset
    ds = WindowDataset(sources(lr_path, hr_path), TRAIN_WINDOW, seed=a.seed, batch_size=4,
                       length=4 * a.steps, flip=True, rotate=True, threads=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0)
    gen, disc = make_generator(a.channels, a.channels // 2), make_discriminator()
    opt_g = torch.optim.Adam(gen.parameters(), lr=a.lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=a.lr / 2, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt_g, max_lr=a.lr, total_steps=a.steps,
                                                pct_start=0.15)
    # The loss sees only voxels whose receptive field lies inside the window (the crop).
    inner = (slice(None), slice(None)) + tuple(slice(c, -c) for c in CROP)
    t0 = time.time()
    run = {}
    for step, batch in enumerate(loader, 1):
        x = batch["lr"].unsqueeze(1)  # [4, 1, 12, 48, 48]
        y = batch["hr"].unsqueeze(1)[inner]  # [4, 1, 16, 40, 40]
        fake = train_forward(gen, x)[inner]
        # Generator: reconstruction + adversarial (fool the discriminator, LSGAN).
        rec = F.l1_loss(fake, y)
        adv = ((disc(fake) - 1) ** 2).mean()
        opt_g.zero_grad()
        (rec + ADV_WEIGHT * adv).backward()
        opt_g.step()
        sched.step()
        # Discriminator: real HR -> 1, generated -> 0.
        d_loss = 0.5 * (((disc(y) - 1) ** 2).mean() + (disc(fake.detach()) ** 2).mean())
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        for k, v in (("l1", rec), ("adv", adv), ("d", d_loss)):
            run[k] = v.item() if k not in run else 0.9 * run[k] + 0.1 * v.item()
        if step % max(1, a.steps // 10) == 0 or step == a.steps:
            print(f"step {step:4d}  G: L1 {run['l1']:.2e} adversarial {run['adv']:.3f}  "
                  f"D: {run['d']:.3f}  {time.time() - t0:5.1f} s", flush=True)
    gen.eval()
    return export(a, work, gen), run


def run_job(a, exe, work, name, lr_path, operator):
    """Writes DIR/NAME.toml (LR in, DIR/out.zarr/NAME out) and runs it with volbatch; returns
    the output's path. --prepare first: the output layout from volbatch's dry pass."""
    job = os.path.join(work, f"{name}.toml")
    out = os.path.join(work, "out.zarr", name)
    with open(job, "w") as f:
        f.write(JOB_OUTPUT.format(input=lr_path, output=out) + operator)
    prepare_one_channel(exe, job, out, a.model or "the model", 3, a.threads,
                        "super-resolution needs 1 (HR grey levels)")
    volbatch(exe, "run", job, "--quiet", "--threads", str(a.threads))
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="working directory: data, model, jobs, "
                    "metrics.json, timings.json")
    ap.add_argument("--quick", action="store_true", help="small volumes, 60 steps")
    ap.add_argument("--steps", type=int, help="training steps (default 400; --quick 60)")
    ap.add_argument("--channels", type=int, default=12, help="the generator's LR channels "
                    "(even: half of them per HR plane after the shuffle)")
    ap.add_argument("--lr", type=float, help="peak learning rate (default 3e-3; --quick 6e-3)")
    ap.add_argument("--model", help="run this TorchScript model instead of training one")
    ap.add_argument("--threads", type=int, default=2, help="torch and volbatch threads")
    ap.add_argument("--volbatch", help="the volbatch binary (default: build*/volbatch)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.steps is None:
        a.steps = 60 if a.quick else 400
    if a.lr is None:  # 60 steps need the higher peak to leave the linear start in time
        a.lr = 6e-3 if a.quick else 3e-3
    check_args(a, ("steps", "channels", "threads"))
    if a.channels % 2:
        fail(f"--channels: must be even, not {a.channels}")
    return a


def main():
    a = parse_args()
    # HR shapes (z a multiple of FACTOR); LR has a quarter of the planes.
    train_shape = (64, 128, 128) if a.quick else (128, 256, 256)
    eval_shape = (64, 96, 96) if a.quick else (128, 192, 192)

    exe, work = start(a)
    times = {}
    t_start = time.time()

    if not a.model:  # the training pair only when training
        train_lr, train_hr, _, _ = write_pair(work, "train", train_shape, seed=2)
    eval_lr, _, ev_lr, ev_hr = write_pair(work, "heldout", eval_shape, seed=1)
    times["data_s"] = time.time() - t_start
    print(f"data: HR {'' if a.model else f'train {train_shape} (seed 2), '}held-out "
          f"{eval_shape} (seed 1), LR z / {FACTOR}, in {times['data_s']:.1f} s", flush=True)

    t0 = time.time()
    if a.model:
        pt = os.path.abspath(a.model)
        times["train_s"] = 0.0
    else:
        check_alignment(train_lr, train_hr)
        pt, losses = train(a, work, train_lr, train_hr)
        times["train_s"] = time.time() - t0
        print(f"trained {a.steps} steps of 4 x {list(TRAIN_WINDOW)} in {times['train_s']:.1f} s"
              f"; exported {pt} and rdf.yaml", flush=True)

    t0 = time.time()
    out = run_job(a, exe, work, "upscaled", eval_lr,
                  TORCH_OP.format(model=pt, f=FACTOR, w=RUN_WINDOW, crop=CROP))
    times["inference_s"] = time.time() - t0
    t0 = time.time()
    base_out = run_job(a, exe, work, "linear", eval_lr, LINEAR_OP.format(f=FACTOR))
    times["baseline_s"] = time.time() - t0
    import zarr
    pred = zarr.open_array(out, mode="r")[...]
    base = zarr.open_array(base_out, mode="r")[...]
    for name, v in (("model", pred), ("baseline", base)):
        if v.shape != ev_hr.shape:
            fail(f"[operator] scale: the {name} output is {list(v.shape)}, not the HR "
                 f"{list(ev_hr.shape)} (LR {list(ev_lr.shape)} with z x {FACTOR})")
    print(f"volbatch run over LR {ev_lr.shape} -> {pred.shape} (held out): model "
          f"{times['inference_s']:.1f} s, linear {times['baseline_s']:.1f} s", flush=True)

    metrics = image_metrics(pred, base, ev_hr)
    times["total_s"] = time.time() - t_start
    times["steps"] = 0 if a.model else a.steps
    write_results(work, metrics=metrics, timings=times)

    for m in metrics:
        print(f"{m['metric'].upper():5s} against the held-out HR: model {m['model']:.4f}, "
              f"linear {m['baseline']:.4f}")
    print(f"times: data {times['data_s']:.1f} s, training {times['train_s']:.1f} s, "
          f"inference {times['inference_s']:.1f} s, baseline {times['baseline_s']:.1f} s; "
          f"total {times['total_s']:.1f} s; wrote {os.path.join(work, 'metrics.json')}")


if __name__ == "__main__":
    main()
