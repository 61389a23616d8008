#!/usr/bin/python3
"""Train a small 3-D denoiser from random windows of N5/Zarr volumes, export it as TorchScript
and run it over a held-out volume with `volbatch run`.

    PYTHONPATH=build/python /usr/bin/python3 examples/train_denoiser.py [--dir DIR]
        [--steps 300] [--quick] [--workers 0] [--volbatch build/volbatch]

1. Data: the demo's synthetic EM generator (models/synthetic_em.py, a numpy port of the one
   `volbatch demo` uses): a noisy (Gaussian-like noise, sigma 20 grey levels) and a clean
   volume of the same region, stored as two datasets — noisy in N5 (gzip), clean in Zarr v2
   (zstd) — for training (seed 2) and for evaluation (seed 1, never seen in training).
2. Training: volbatch.torch.WindowDataset over the two aligned sources (the same window of
   both, normalized to [0, 1], the same random flips, 90-degree rotations and intensity
   jitter), batches of 4 windows written by the sampler's C++ threads; the model is the
   demo's architecture (models/train_denoiser.py: four 3x3x3 convolutions, residual); the loss
   is the MSE inside the 4-voxel halo the engine crops.
3. Export: torch.jit.script -> DIR/denoiser.pt.
4. Inference: a job file (torch operator, windows [32, 64, 64], crop 4, gaussian blending)
   run by the volbatch CLI over the held-out noisy volume; PSNR against the clean volume
   before and after, as `volbatch demo` reports it.

On 2 idle CPU cores the default run (300 steps) takes under a minute; --quick (20 steps,
smaller volumes) takes seconds and is what the test suite runs.
"""
import argparse
import glob
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "models"))
from synthetic_em import synthetic_em_pair  # noqa: E402
from train_denoiser import HALO, Denoise3d, fast_allocations, train_forward  # noqa: E402


def find_volbatch(path):
    if path:
        return os.path.abspath(path)
    cands = sorted(glob.glob(os.path.join(ROOT, "build*", "volbatch")), key=os.path.getmtime,
                   reverse=True)
    if not cands:
        sys.exit("volbatch not found: build it (ninja -C build) or pass --volbatch")
    return cands[0]


def write_pair(dir_, shape, seed):
    """(noisy N5 dataset path, clean Zarr v2 dataset path, clean array)."""
    import numcodecs
    import zarr
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


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


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
window = [32, 64, 64]
crop = [{halo}, {halo}, {halo}]
normalize = {{ range = [0, 255] }}
denormalize = true
[tiling]
blend = "gaussian"
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", help="working directory (default: a temporary one, removed)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="20 steps on small volumes")
    ap.add_argument("--workers", type=int, default=0,
                    help="DataLoader worker processes (0: the sampler's C++ threads only)")
    ap.add_argument("--threads", type=int, default=2, help="torch and volbatch threads")
    ap.add_argument("--volbatch", help="the volbatch binary (default: build*/volbatch)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.quick:
        a.steps = min(a.steps, 20)
    train_shape = (32, 96, 96) if a.quick else (64, 192, 192)
    eval_shape = (32, 96, 96) if a.quick else (64, 192, 192)

    from volbatch.torch import WindowDataset
    fast_allocations()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    exe = find_volbatch(a.volbatch)
    work = a.dir or tempfile.mkdtemp(prefix="volbatch-train-")
    os.makedirs(work, exist_ok=True)
    t_start = time.time()

    train_noisy, train_clean, _, _ = write_pair(work, train_shape, seed=2)
    eval_noisy, _, ev_noisy, ev_clean = write_pair(work, eval_shape, seed=1)
    print(f"data: train {train_shape} (seed 2), eval {eval_shape} (seed 1) in "
          f"{time.time() - t_start:.1f} s", flush=True)

    ds = WindowDataset([{"path": train_noisy, "name": "noisy", "normalize": [0, 255]},
                        {"path": train_clean, "name": "clean", "normalize": [0, 255]}],
                       (16, 48, 48), seed=a.seed, batch_size=4, length=4 * a.steps,
                       flip=True, rotate=True, gain_jitter=0.1, offset_jitter=0.05,
                       threads=1 if a.workers else 2)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=a.workers)
    model = Denoise3d()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=a.steps,
                                                pct_start=0.1)
    h = HALO
    t_train = time.time()
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
            print(f"step {step:4d}  loss {running:.2e} (~{10 * math.log10(1 / running):.1f} dB)"
                  f"  {time.time() - t_train:5.1f} s", flush=True)
    train_s = time.time() - t_train

    model.eval()
    pt = os.path.join(work, "denoiser.pt")
    torch.jit.script(model).save(pt)

    job = os.path.join(work, "denoise.toml")
    out = os.path.join(work, "out.zarr", "denoised")
    with open(job, "w") as f:
        f.write(JOB.format(input=eval_noisy, output=out, model=pt, halo=HALO))
    t0 = time.time()
    r = subprocess.run([exe, "run", job, "--threads", str(a.threads), "--force", "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"volbatch run failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    run_s = time.time() - t0

    import zarr
    den = zarr.open_array(out, mode="r")[...]
    before, after = psnr(ev_noisy, ev_clean), psnr(den, ev_clean)
    print(f"trained {a.steps} steps of 4 x [16, 48, 48] in {train_s:.1f} s; exported {pt}")
    print(f"volbatch run over {eval_shape} (held out) in {run_s:.1f} s")
    print(f"PSNR against the clean volume: {before:.2f} dB noisy, {after:.2f} dB denoised "
          f"({after - before:+.2f} dB); total {time.time() - t_start:.1f} s")
    if not a.dir:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
