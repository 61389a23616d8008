#!/usr/bin/python3
"""Content-aware restoration (denoising): train the demo's 3-D denoiser from random windows of
N5/Zarr volumes, export it as TorchScript with an rdf.yaml, run it over a held-out volume with
`volbatch run`, and compare it with the best gaussian filter.

    PYTHONPATH=build/python /usr/bin/python3 examples/restoration.py --out DIR
        [--quick] [--steps N] [--model PT] [--workers 0] [--threads 2] [--volbatch build/volbatch]

1. Data: the demo's synthetic EM generator (models/synthetic_em.py, a numpy port of the one
   `volbatch demo` uses): a noisy (Gaussian-like noise, sigma 20 grey levels) and a clean
   volume of the same region, stored as two datasets — noisy in N5 (gzip), clean in Zarr v2
   (zstd) — for training (seed 2) and for evaluation (seed 1, never seen in training).
2. Training: volbatch.torch.WindowDataset over the two aligned sources (the same window of
   both, normalized to [0, 1], the same random flips, 90-degree rotations and intensity
   jitter), batches of 4 windows written by the sampler's C++ threads; the model is the
   demo's architecture (models/train_denoiser.py: four 3x3x3 convolutions, residual); the loss
   is the MSE inside the 4-voxel halo the engine crops.
3. Export: torch.jit.script -> DIR/denoise3d.pt with DIR/rdf.yaml (the demo model's rdf).
4. Inference: a job file (torch operator, windows [32, 64, 64], crop 4, gaussian blending)
   run by `volbatch run` over the held-out noisy volume.
5. Baseline: the gaussian filter whose sigma (0.5 to 2.5 voxels) restores the *training* pair
   best (scipy), run by `volbatch run` (`type = "gaussian"`) over the held-out volume.
6. Metrics against the held-out clean volume: PSNR and SSIM of the model's output and of the
   baseline -> DIR/metrics.json (a list of {"metric", "model", "baseline",
   "higher_is_better"}); times -> DIR/timings.json.

--model models/denoise3d/denoise3d.pt runs the demo's shipped denoiser (trained offline by
models/train_denoiser.py for 600 steps) instead of training one. --quick: small volumes and 300
steps (~25 s on 2 cores), what the test suite runs.
"""
import argparse
import math
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recipe import (check_args, fail, image_metrics, prepare_one_channel, psnr,  # noqa: E402
                    ssim, start, volbatch, write_results)

SIGMAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)  # the baseline's candidates (voxels)

JOB = """[input]
path = "{input}"
[output]
path = "{output}"
format = "zarr2"
dtype = "uint8"
chunks = [64, 64, 64]
codec = "zstd:3"
[operator]
{operator}
[tiling]
blend = "gaussian"
"""

TORCH = """type = "torch"
model = "{model}"
window = [32, 64, 64]
crop = [{halo}, {halo}, {halo}]
normalize = {{ range = [0, 255] }}
denormalize = true"""


def write_pair(dir_, shape, seed):
    """(noisy N5 dataset path, clean Zarr v2 dataset path, noisy array, clean array)."""
    import numcodecs
    import zarr
    from synthetic_em import synthetic_em_pair
    noisy, clean = synthetic_em_pair((0, 0, 0), shape, seed=seed, noise_sigma=20)
    n5 = os.path.join(dir_, f"seed{seed}.n5")
    g = zarr.group(store=zarr.N5Store(n5))
    g.create_dataset("noisy", data=noisy, chunks=(32, 64, 64), compressor=numcodecs.GZip(5),
                     overwrite=True)
    clean_path = os.path.join(dir_, f"seed{seed}.zarr", "clean")
    z = zarr.open_array(clean_path, mode="w", shape=shape, chunks=(32, 64, 64), dtype=np.uint8,
                        compressor=numcodecs.Zstd(3))
    z[:] = clean
    return os.path.join(n5, "noisy"), clean_path, noisy, clean


def train(a, work, train_noisy, train_clean):
    """Trains Denoise3d for a.steps steps; returns the exported model's path."""
    import hashlib

    import torch
    import torch.nn.functional as F
    from train_denoiser import HALO, RDF, Denoise3d, train_forward
    from volbatch.torch import WindowDataset
    ds = WindowDataset([{"path": train_noisy, "name": "noisy", "normalize": [0, 255]},
                        {"path": train_clean, "name": "clean", "normalize": [0, 255]}],
                       (16, 48, 48), seed=a.seed, batch_size=4, length=4 * a.steps,
                       flip=True, rotate=True, gain_jitter=0.1, offset_jitter=0.05,
                       threads=1 if a.workers else 2)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=a.workers)
    model = Denoise3d()
    # models/train_denoiser.py's schedule: Adam at 3e-3 with a cosine decay to 0 (a one-cycle
    # schedule peaking at 4e-3 diverged now and then).
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
    h = HALO
    t0 = time.time()
    running = None
    for step, batch in enumerate(loader, 1):
        x = batch["noisy"].unsqueeze(1)  # [4, 1, 16, 48, 48]
        y = batch["clean"].unsqueeze(1)
        out = train_forward(model, x)
        loss = F.mse_loss(out[..., h:-h, h:-h, h:-h], y[..., h:-h, h:-h, h:-h])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % max(1, a.steps // 10) == 0 or step == a.steps:
            db = 10 * np.log10(1 / running)
            print(f"step {step:4d}  loss {running:.2e} (~{db:.1f} dB)  {time.time() - t0:5.1f} s",
                  flush=True)
    model.eval()
    pt = os.path.join(work, "denoise3d.pt")
    torch.jit.script(model).save(pt)
    sha = hashlib.sha256(open(pt, "rb").read()).hexdigest()
    with open(os.path.join(work, "rdf.yaml"), "w") as f:
        # The demo model's description; its held-out figures are filled in with -1 (unknown).
        f.write(RDF.format(sha256=sha, halo=HALO, noisy=-1.0, denoised=-1.0, shape="-"))
    return pt


def best_sigma(noisy, clean):
    """The gaussian sigma (of SIGMAS) that restores the training pair best, by PSNR."""
    from scipy.ndimage import gaussian_filter
    scores = {s: psnr(np.clip(np.floor(gaussian_filter(noisy.astype(np.float64), s,
                                                       mode="reflect") + 0.5), 0, 255), clean)
              for s in SIGMAS}
    return max(scores, key=scores.get), scores


def run_job(exe, work, name, input_, operator, threads, model=None):
    """Writes DIR/NAME.toml and runs it; returns the output array. With a model, refuses one
    that returns more than one channel before any block runs."""
    import zarr
    job = os.path.join(work, f"{name}.toml")
    out = os.path.join(work, "out.zarr", name)
    with open(job, "w") as f:
        f.write(JOB.format(input=input_, output=out, operator=operator))
    if model:
        prepare_one_channel(exe, job, out, model, 3, threads,
                            "a denoiser returns 1 (the restored grey levels)")
    else:  # a rerun in the same DIR starts again
        volbatch(exe, "run", job, "--prepare", "--force", "--quiet", "--threads", str(threads))
    volbatch(exe, "run", job, "--quiet", "--threads", str(threads))
    return zarr.open_array(out, mode="r")[...]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", "--dir", dest="out", required=True,
                    help="working directory: data, model, jobs, metrics.json, timings.json")
    ap.add_argument("--quick", action="store_true", help="small volumes, 300 steps")
    ap.add_argument("--steps", type=int, help="training steps (default 600; --quick 300)")
    ap.add_argument("--model", help="run this TorchScript model instead of training one "
                    "(e.g. models/denoise3d/denoise3d.pt, the demo's)")
    ap.add_argument("--workers", type=int, default=0,
                    help="DataLoader worker processes (0: the sampler's C++ threads only)")
    ap.add_argument("--threads", type=int, default=2, help="torch and volbatch threads")
    ap.add_argument("--volbatch", help="the volbatch binary (default: build*/volbatch)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.steps is None:
        a.steps = 300 if a.quick else 600
    if a.workers < 0:
        fail(f"--workers: must be >= 0, not {a.workers}")
    check_args(a, ("steps", "threads"))
    return a


def main():
    a = parse_args()
    shape = (32, 128, 128) if a.quick else (64, 192, 192)

    from train_denoiser import HALO
    exe, work = start(a)
    times = {}
    t_start = time.time()

    train_noisy, train_clean, tr_noisy, tr_clean = write_pair(work, shape, seed=2)
    eval_noisy, _, ev_noisy, ev_clean = write_pair(work, shape, seed=1)
    times["data_s"] = time.time() - t_start
    print(f"data: train and held-out {shape} (seeds 2 and 1) in {times['data_s']:.1f} s",
          flush=True)

    t0 = time.time()
    if a.model:
        pt = os.path.abspath(a.model)
        if os.path.isfile(os.path.join(os.path.dirname(pt), "rdf.yaml")):
            shutil.copy(os.path.join(os.path.dirname(pt), "rdf.yaml"), work)
        times["train_s"] = 0.0
    else:
        pt = train(a, work, train_noisy, train_clean)
        times["train_s"] = time.time() - t0
        print(f"trained {a.steps} steps of 4 x [16, 48, 48] in {times['train_s']:.1f} s; "
              f"exported {pt} and rdf.yaml", flush=True)

    t0 = time.time()
    den = run_job(exe, work, "denoised", eval_noisy, TORCH.format(model=pt, halo=HALO),
                  a.threads, model=pt)
    times["inference_s"] = time.time() - t0
    print(f"volbatch run over {shape} (held out) in {times['inference_s']:.1f} s", flush=True)

    t0 = time.time()
    sigma, scores = best_sigma(tr_noisy, tr_clean)
    base = run_job(exe, work, "gaussian", eval_noisy,
                   f'type = "gaussian"\nsigma = [{sigma}, {sigma}, {sigma}]', a.threads)
    times["baseline_s"] = time.time() - t0
    print("gaussian sigma on the training pair: " +
          ", ".join(f"{s}: {v:.2f} dB" for s, v in scores.items()) + f" -> {sigma}")

    metrics = image_metrics(den, base, ev_clean)
    times["total_s"] = time.time() - t_start
    times["steps"] = 0 if a.model else a.steps
    write_results(work, metrics=metrics, timings=times)
    print(f"PSNR against the clean volume: {psnr(ev_noisy, ev_clean):.2f} dB noisy, "
          f"{metrics[0]['baseline']:.2f} dB gaussian (sigma {sigma}), "
          f"{metrics[0]['model']:.2f} dB denoised")
    print(f"SSIM against the clean volume: {ssim(ev_noisy, ev_clean):.4f} noisy, "
          f"{metrics[1]['baseline']:.4f} gaussian, {metrics[1]['model']:.4f} denoised")
    print(f"times: data {times['data_s']:.1f} s, training {times['train_s']:.1f} s, "
          f"inference {times['inference_s']:.1f} s, baseline {times['baseline_s']:.1f} s; "
          f"total {times['total_s']:.1f} s; wrote {os.path.join(work, 'metrics.json')}")


if __name__ == "__main__":
    main()
