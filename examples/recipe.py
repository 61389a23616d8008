"""What every example does around its model: argument checks and one-line errors, finding and
running the volbatch binary, the process set-up before training, the quality metrics, and the
result files (DIR/metrics.json, DIR/timings.json, ...).

Importing it puts models/ on sys.path (synthetic_em, train_denoiser).
"""
import glob
import json
import math
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "models"))


def fail(msg):
    """One line on stderr, exit status 1."""
    sys.exit(" ".join(str(msg).split()))


def check_args(a, counts):
    """The checks every example's arguments share: each of `counts` (attribute names, the
    option --NAME) >= 1, a learning rate (when the example has one) > 0, and --model a file."""
    for name in counts:
        v = getattr(a, name)
        if v < 1:
            fail(f"--{name}: must be >= 1, not {v}")
    lr = getattr(a, "lr", None)
    if lr is not None and not lr > 0:
        fail(f"--lr: must be > 0, not {lr}")
    if a.model and not os.path.isfile(a.model):
        fail(f"--model: {a.model}: no such file")


def find_volbatch(path):
    if path:
        if not os.path.isfile(path):
            fail(f"--volbatch: {path}: no such file")
        return os.path.abspath(path)
    cands = sorted(glob.glob(os.path.join(ROOT, "build*", "volbatch")), key=os.path.getmtime,
                   reverse=True)
    if not cands:
        fail("--volbatch: volbatch not found: build it (ninja -C build) or pass --volbatch")
    return cands[0]


def start(a):
    """Seeds torch and sets its threads (and the allocator training needs), finds volbatch and
    creates the working directory; returns (volbatch binary, working directory)."""
    import torch
    from train_denoiser import fast_allocations
    fast_allocations()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    exe = find_volbatch(a.volbatch)
    work = os.path.abspath(a.out)
    os.makedirs(work, exist_ok=True)
    return exe, work


def volbatch(exe, *args):
    """Runs volbatch; its stdout, or its last line as this example's one-line error."""
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
        fail(lines[-1] if lines else f"volbatch {args[0]}: exit status {r.returncode}")
    return r.stdout


def prepare_one_channel(exe, job, out, model, rank, threads, why):
    """`volbatch run --prepare` (its dry pass on zeros fixes the output layout), then refuses a
    model that returns more than one channel, which volbatch itself accepts (it writes
    [C, z, y, x]), before any block runs."""
    volbatch(exe, "run", job, "--prepare", "--force", "--quiet", "--threads", str(threads))
    shape = json.loads(volbatch(exe, "info", out, "--json"))["shape"]
    if len(shape) != rank:
        fail(f"[operator] model: {model} returns {shape[0]} output channels (volbatch prepared "
             f"{out} as {shape}); {why}: export a 1-channel model or select one with "
             f"[operator] channels = [k]")


def write_results(work, **files):
    """Writes each keyword's object to WORK/NAME.json (metrics, timings, ...)."""
    for name, obj in files.items():
        with open(os.path.join(work, f"{name}.json"), "w") as f:
            json.dump(obj, f, indent=1)


def to_u8(v):
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def psnr(x, ref):
    mse = float(np.mean((np.asarray(x, np.float64) - np.asarray(ref, np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def ssim(x, ref, sigma=1.5):
    """Mean SSIM (Wang et al. 2004) with a 3-D gaussian window, data range 255."""
    from scipy.ndimage import gaussian_filter
    x = np.asarray(x, np.float64)
    y = np.asarray(ref, np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def f(v):
        return gaussian_filter(v, sigma, mode="reflect", truncate=3.5)
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def image_metrics(pred, base, ref):
    """metrics.json's entries of an image-to-image example: PSNR and SSIM of the model's output
    `pred` and of the baseline's `base` against the reference."""
    return [{"metric": name, "model": f(pred, ref), "baseline": f(base, ref),
             "higher_is_better": True} for name, f in (("psnr", psnr), ("ssim", ssim))]
