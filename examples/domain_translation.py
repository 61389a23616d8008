#!/usr/bin/python3
"""Microscopy domain translation: train a small 3-D network to turn instrument A's volumes
(SEM-like) into instrument B's (TEM-like) from paired N5/Zarr windows, run it over a held-out
volume with `volbatch run`, and compare it with histogram matching.

    PYTHONPATH=build/python /usr/bin/python3 examples/domain_translation.py --out DIR
        [--quick] [--steps N] [--model PT] [--threads 2] [--volbatch build/volbatch]

1. Data: two synthetic instruments imaging the same clean geometry, the demo's synthetic EM
   generator (models/synthetic_em.py, its clean volume: a pure function of position and seed):
   - A, "SEM-like": the generator's contrast (dark membranes, grey cells, darker organelles),
     a gaussian blur of sigma 1 voxel, then Poisson (shot) noise with 200 counts at full
     scale (about 15 grey levels on cytoplasm, 7 on membranes);
   - B, "TEM-like": inverted contrast through a non-linear tone curve
     (20 + 220 (1 - v / 255)^1.7: bright membranes, dark cytoplasm), an anisotropic blur of
     sigma (2, 0.7, 0.7) (z elongated, as in tomography), then additive gaussian noise of
     sigma 8 grey levels.
   Blurs are computed on the region grown by 8 voxels, so the volumes too are functions of
   position; the noise is drawn from numpy generators seeded by (seed, region, instrument).
   A paired training region (seed 2) and a held-out region (seed 1, never seen in training)
   are written as datasets: A in N5 (gzip), B in Zarr v2 (zstd).
2. Training: volbatch.torch.WindowDataset over the two training sources (A as input, B as
   target: the same windows, normalized to [0, 1], the same random flips and 90-degree
   rotations in y-x; no intensity jitter, which would change the A -> B relation); batches of
   4 windows [16, 48, 48]; a small 3-D CNN, y = s x + f(x): one learned weight s and four
   3x3x3 convolutions f, 1-12-12-12-1 channels, ReLU between them (receptive field 9^3,
   halo 4), f's last bias starting at B's mean; L2 loss inside the halo the engine crops.
3. Export: torch.jit.script -> DIR/translate.pt with DIR/rdf.yaml (window, halo, scaling).
4. Inference: a job file (torch operator, windows [32, 64, 64], crop 4, gaussian blending,
   normalize by [0, 255], denormalize) run by `volbatch run` over the whole held-out A volume.
   `volbatch run --prepare` first: volbatch's dry pass on zeros fixes the output layout, and a
   model with more than one output channel (which volbatch accepts: it writes [C, z, y, x])
   is refused here before any block runs.
5. Metrics against the held-out B volume: PSNR and SSIM (3-D, gaussian window sigma 1.5,
   K1 0.01, K2 0.03, data range 255) of the model's output and of the baseline, histogram
   matching: a lookup table that sends each grey level of A to the training B's quantile at
   the same rank (numpy: A's mid-rank empirical CDF over its 256 levels, np.quantile of the
   training B). As B's contrast is inverted, the decreasing map (rank q -> B's quantile at
   1 - q) is used when it fits the training pair better than the increasing one (it does;
   both are printed). Written to DIR/metrics.json as a list of {"metric", "model",
   "baseline", "higher_is_better"}; times to DIR/timings.json.

--quick: small volumes and 80 steps (50-80 s on 2 shared cores), what the test suite
runs. --model PT runs an existing TorchScript model instead of training one.
"""
import argparse
import hashlib
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import (check_args, image_metrics, prepare_one_channel, psnr, ssim,  # noqa: E402
                    start, to_u8, volbatch, write_results)

HALO = 4                # four 3x3x3 convolutions
MARGIN = 8              # blurs are computed on the region grown by this much
PHOTONS = 200.0         # A: Poisson counts at grey level 255
SIGMA_A = 1.0           # A: isotropic gaussian blur (voxels)
SIGMA_B = (2.0, 0.7, 0.7)  # B: anisotropic blur (z, y, x)
NOISE_B = 8.0           # B: additive gaussian noise (grey levels)
TRAIN_WINDOW = (16, 48, 48)
RUN_WINDOW = (32, 64, 64)


# ---- the two instruments ---------------------------------------------------------------------

def tone_b(v):
    """B's tone curve on A-like grey levels in [0, 255]: inverted, non-linear."""
    return 20.0 + 220.0 * (1.0 - np.clip(v, 0, 255) / 255.0) ** 1.7


def instruments(begin, shape, seed):
    """(A, B, B without noise) uint8 arrays of one region, imaged from the same clean
    geometry of the synthetic generator at the same positions and seed."""
    from scipy.ndimage import gaussian_filter
    from synthetic_em import synthetic_em
    m = MARGIN
    big = synthetic_em(tuple(b - m for b in begin), tuple(s + 2 * m for s in shape), seed=seed,
                       noise_sigma=0).astype(np.float64)
    inner = tuple(slice(m, m + s) for s in shape)
    rng_key = [int(seed) & 0xFFFFFFFF] + [int(b) & 0xFFFFFFFF for b in begin]
    # A: SEM-like.
    a = gaussian_filter(big, SIGMA_A, mode="nearest")[inner]
    counts = np.random.default_rng(rng_key + [0xA]).poisson(np.maximum(a, 0) / 255.0 * PHOTONS)
    a = to_u8(counts * (255.0 / PHOTONS))
    # B: TEM-like.
    b_clean = tone_b(gaussian_filter(big, SIGMA_B, mode="nearest")[inner])
    b = to_u8(b_clean + np.random.default_rng(rng_key + [0xB]).normal(0, NOISE_B, shape))
    return a, b, to_u8(b_clean)


def write_pair(dir_, name, shape, seed):
    """Writes A (N5, gzip) and B (Zarr v2, zstd); returns their dataset paths and arrays."""
    import numcodecs
    import zarr
    a, b, b_clean = instruments((0, 0, 0), shape, seed)
    n5 = os.path.join(dir_, f"{name}.n5")
    g = zarr.group(store=zarr.N5Store(n5))
    g.create_dataset("sem", data=a, chunks=(32, 64, 64), compressor=numcodecs.GZip(5),
                     overwrite=True)
    b_path = os.path.join(dir_, f"{name}.zarr", "tem")
    z = zarr.open_array(b_path, mode="w", shape=shape, chunks=(32, 64, 64), dtype=np.uint8,
                        compressor=numcodecs.Zstd(3))
    z[:] = b
    return os.path.join(n5, "sem"), b_path, a, b, b_clean


# ---- metrics and the baseline ----------------------------------------------------------------

def histogram_match(train_a, train_b, decreasing):
    """A lookup table (256 grey levels of A -> B's grey levels): each level goes to the
    training B's quantile at the level's mid-rank in the training A (1 - rank if
    decreasing)."""
    hist = np.bincount(train_a.ravel(), minlength=256).astype(np.float64)
    cdf = np.cumsum(hist)
    rank = (cdf - hist / 2) / cdf[-1]  # mid-rank of each level, in (0, 1)
    q = 1.0 - rank if decreasing else rank
    return np.quantile(train_b.ravel(), np.clip(q, 0, 1))


# ---- the model -------------------------------------------------------------------------------

def make_model(channels=12):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Translate3d(nn.Module):
        """y = s x + f(x): a linear path (one weight; the bias is f's) plus four 3x3x3 'same'
        convolutions 1 -> C -> C -> C -> 1 with ReLU between them."""

        def __init__(self, c: int):
            super().__init__()
            self.c1 = nn.Conv3d(1, c, 3, padding=1)
            self.c2 = nn.Conv3d(c, c, 3, padding=1)
            self.c3 = nn.Conv3d(c, c, 3, padding=1)
            self.c4 = nn.Conv3d(c, 1, 3, padding=1)
            self.skip = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            h = F.relu(self.c1(x))
            h = F.relu(self.c2(h))
            h = F.relu(self.c3(h))
            return self.skip * x + self.c4(h)

    return Translate3d(channels)


def train_forward(m, x):
    """Translate3d.forward with models/train_denoiser.py's conv3d whose backward is two
    forward convolutions (the same gradients, several times faster with LibTorch 1.13 on the
    CPU); the exported model uses plain conv3d with the same weights."""
    import torch.nn.functional as F
    from train_denoiser import _Conv3dSame
    conv = _Conv3dSame.apply
    h = F.relu(conv(x, m.c1.weight, m.c1.bias))
    h = F.relu(conv(h, m.c2.weight, m.c2.bias))
    h = F.relu(conv(h, m.c3.weight, m.c3.bias))
    return m.skip * x + conv(h, m.c4.weight, m.c4.bias)


RDF = """\
# bioimage.io-style model description (model RDF 0.4 field names), written by
# examples/domain_translation.py with the weights.
format_version: 0.4.10
type: model
name: volbatch-translate-sem-to-tem
description: >-
  Small 3-D CNN translating synthetic SEM-like volumes (instrument A) into TEM-like ones
  (instrument B): four 3x3x3 convolutions, 1-{c}-{c}-{c}-1 channels, ReLU. Trained for
  {steps} steps on paired windows of volbatch's synthetic EM generator.
authors:
  - name: volbatch
license: MIT
tags: [domain-translation, image-to-image, 3d, electron-microscopy, synthetic, volbatch]
timestamp: "2024-01-01T00:00:00"
inputs:
  - name: sem
    description: instrument A grey levels / 255
    axes: bczyx
    data_type: float32
    data_range: [0.0, 1.0]
    shape: [1, 1, {w[0]}, {w[1]}, {w[2]}]
    preprocessing:
      - name: scale_linear
        kwargs: {{axes: zyx, gain: 0.00392156862745098, offset: 0.0}}
outputs:
  - name: tem
    description: instrument B grey levels / 255 (same shape as the input)
    axes: bczyx
    data_type: float32
    shape: [1, 1, {w[0]}, {w[1]}, {w[2]}]
    halo: [0, 0, {halo}, {halo}, {halo}]
    postprocessing:
      - name: scale_linear
        kwargs: {{axes: zyx, gain: 255.0, offset: 0.0}}
weights:
  torchscript:
    source: translate.pt
    sha256: {sha256}
    pytorch_version: "{torch_version}"
"""

JOB = """[input]
path = "{input}"
[output]
path = "{output}"
format = "zarr2"
dtype = "uint8"
chunks = [64, 64, 64]
codec = "zstd:3"
[operator]
type = "torch"
model = "{model}"
window = [{w[0]}, {w[1]}, {w[2]}]
crop = [{halo}, {halo}, {halo}]
normalize = {{ range = [0, 255] }}
denormalize = true
[tiling]
blend = "gaussian"
"""


def train(a, work, train_a, train_b, target_mean):
    import torch
    import torch.nn.functional as F
    from volbatch.torch import WindowDataset
    ds = WindowDataset([{"path": train_a, "name": "a", "normalize": [0, 255]},
                        {"path": train_b, "name": "b", "normalize": [0, 255]}],
                       TRAIN_WINDOW, seed=a.seed, batch_size=4, length=4 * a.steps,
                       flip=True, rotate=True, threads=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0)
    model = make_model(a.channels)
    with torch.no_grad():  # start at the target's mean grey level
        model.c4.bias.fill_(target_mean)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps,
                                                pct_start=0.15)
    h = HALO
    inner = (slice(None), slice(None), slice(h, -h), slice(h, -h), slice(h, -h))
    t0 = time.time()
    running = None
    for step, batch in enumerate(loader, 1):
        x = batch["a"].unsqueeze(1)  # [4, 1, 16, 48, 48]
        y = batch["b"].unsqueeze(1)
        loss = F.mse_loss(train_forward(model, x)[inner], y[inner])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % max(1, a.steps // 10) == 0 or step == a.steps:
            print(f"step {step:4d}  loss {running:.2e} (~{10 * math.log10(1 / running):.1f} dB)"
                  f"  {time.time() - t0:5.1f} s", flush=True)
    model.eval()
    pt = os.path.join(work, "translate.pt")
    torch.jit.script(model).save(pt)
    sha = hashlib.sha256(open(pt, "rb").read()).hexdigest()
    with open(os.path.join(work, "rdf.yaml"), "w") as f:
        f.write(RDF.format(c=a.channels, steps=a.steps, w=RUN_WINDOW, halo=HALO, sha256=sha,
                           torch_version=".".join(torch.__version__.split(".")[:2])))
    return pt


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="working directory: data, model, job, "
                    "metrics.json, timings.json")
    ap.add_argument("--quick", action="store_true", help="small volumes, 80 steps")
    ap.add_argument("--steps", type=int, help="training steps (default 500; --quick 80)")
    ap.add_argument("--channels", type=int, default=12, help="the network's hidden channels")
    ap.add_argument("--lr", type=float, default=4e-3, help="peak learning rate")
    ap.add_argument("--model", help="run this TorchScript model instead of training one")
    ap.add_argument("--threads", type=int, default=2, help="torch and volbatch threads")
    ap.add_argument("--volbatch", help="the volbatch binary (default: build*/volbatch)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.steps is None:
        a.steps = 80 if a.quick else 500
    check_args(a, ("steps", "channels", "threads"))
    return a


def main():
    a = parse_args()
    train_shape = (32, 128, 128) if a.quick else (64, 256, 256)
    eval_shape = (32, 96, 96) if a.quick else (64, 192, 192)

    exe, work = start(a)
    times = {}
    t_start = time.time()

    train_a, train_b, tr_a, tr_b, _ = write_pair(work, "train", train_shape, seed=2)
    eval_a, _, ev_a, ev_b, ev_b_clean = write_pair(work, "heldout", eval_shape, seed=1)
    times["data_s"] = time.time() - t_start
    print(f"data: train {train_shape} (seed 2), held-out {eval_shape} (seed 1) in "
          f"{times['data_s']:.1f} s", flush=True)

    t0 = time.time()
    if a.model:
        pt = os.path.abspath(a.model)
        times["train_s"] = 0.0
    else:
        pt = train(a, work, train_a, train_b, float(tr_b.mean()) / 255.0)
        times["train_s"] = time.time() - t0
        print(f"trained {a.steps} steps of 4 x {list(TRAIN_WINDOW)} in {times['train_s']:.1f} s;"
              f" exported {pt} and rdf.yaml", flush=True)

    job = os.path.join(work, "translate.toml")
    out = os.path.join(work, "out.zarr", "translated")
    with open(job, "w") as f:
        f.write(JOB.format(input=eval_a, output=out, model=pt, w=RUN_WINDOW, halo=HALO))
    t0 = time.time()
    prepare_one_channel(exe, job, out, pt, len(eval_shape), a.threads,
                        "translating A to B needs 1 (B's grey levels)")
    volbatch(exe, "run", job, "--quiet", "--threads", str(a.threads))
    times["inference_s"] = time.time() - t0
    import zarr
    pred = zarr.open_array(out, mode="r")[...]
    print(f"volbatch run over {eval_shape} (held out) in {times['inference_s']:.1f} s",
          flush=True)

    t0 = time.time()
    luts = {d: histogram_match(tr_a, tr_b, d) for d in (False, True)}
    fit = {d: psnr(lut[tr_a], tr_b) for d, lut in luts.items()}
    decreasing = fit[True] > fit[False]
    base = luts[decreasing][ev_a]
    times["baseline_s"] = time.time() - t0

    metrics = image_metrics(pred, base, ev_b)
    times["total_s"] = time.time() - t_start
    times["steps"] = 0 if a.model else a.steps
    write_results(work, metrics=metrics, timings=times)

    report(metrics, times, work, luts, decreasing, ev_a, ev_b, ev_b_clean)


def report(metrics, times, work, luts, decreasing, ev_a, ev_b, ev_b_clean):
    inc, dec = (psnr(luts[d][ev_a], ev_b) for d in (False, True))
    print(f"histogram matching A -> training B: increasing {inc:.2f} dB, decreasing {dec:.2f} "
          f"dB on the held-out B (training fit picks {'de' if decreasing else 'in'}creasing)")
    print(f"ceiling (B without its noise vs B): PSNR {psnr(ev_b_clean, ev_b):.2f} dB, "
          f"SSIM {ssim(ev_b_clean, ev_b):.4f}")
    for m in metrics:
        print(f"{m['metric'].upper():5s} against the held-out B: model {m['model']:.4f}, "
              f"baseline {m['baseline']:.4f}")
    print(f"times: data {times['data_s']:.1f} s, training {times['train_s']:.1f} s, "
          f"inference {times['inference_s']:.1f} s, baseline {times['baseline_s']:.1f} s; "
          f"total {times['total_s']:.1f} s; wrote {os.path.join(work, 'metrics.json')}")


if __name__ == "__main__":
    main()
