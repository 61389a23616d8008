#!/usr/bin/python3
"""Multi-label voxel classification of EM volumes (cytoplasm / membrane / organelle) behind the
demo's denoiser, as one volbatch workflow: restoration -> classification (with test-time
augmentation) -> a label pyramid, compared with tuned intensity thresholds.

    PYTHONPATH=build/python /usr/bin/python3 examples/classify.py --out DIR
        [--quick] [--steps N] [--model PT] [--labels PATH] [--classes a,b,c] [--threads 2]
        [--volbatch build/volbatch]

1. Data: the demo's synthetic EM generator (models/synthetic_em.py) with noise sigma 20 grey
   levels, what the shipped denoiser models/denoise3d was trained for, and ground-truth labels
   of the same geometry (synthetic_em_labeled): 0 background (cytoplasm), 1 membrane (membrane
   weight > 0.5, sheets ~2.4 voxels thick), 2 organelle (blob weight > 0.5, not membrane;
   1-2% of the voxels). A training region (seed 2) and a held-out region (seed 1, never seen
   in training) are written as raw in N5 (gzip) and labels in Zarr v2 (uint8, zstd).
2. Restoration of the training volume: `volbatch run` of the denoiser, unchanged (its job as
   `volbatch demo` writes it: normalize [0, 255], denormalize, gaussian blending; window and
   halo from its rdf.yaml), so that the classifier learns from what it sees at inference.
3. Training: volbatch.torch.WindowDataset over the restored training volume (image,
   normalized to [0, 1]) and the labels (kind label), class-balanced windows (balance over
   classes [0, 1, 2]: each window is centred on a voxel of a class drawn uniformly, so the
   1-2% of organelle voxels are seen as often as the rest), random flips and y-x rotations;
   batches of 4 windows [20, 48, 48]. A small 3-D CNN: the input centred ((x - 0.6) * 5),
   then five 3x3x3 convolutions 1-8-8-8-8-3 with ReLU (receptive field 11^3, halo 5) giving
   3 logits; cross-entropy inside the halo the engine crops, each class weighted by the
   inverse square root of its share of the first 20 batches' voxels; Adam, one-cycle lr.
4. Export: torch.jit.script -> DIR/classify.pt with DIR/rdf.yaml (window [42, 74, 74], halo
   5, 3 output channels in outputs[0].shape). The jobs name window and crop too, so that a
   --model without an rdf.yaml runs the same way.
5. The workflow DIR/workflow.toml, run by `volbatch run DIR/workflow.toml`, one [[step]] per
   output, each resumable in its own job directory:
   - "restore": noisy held-out raw -> workflow.zarr/restored (uint8), the denoiser;
   - "classify": restored -> workflow.zarr/labels (uint8, output = "argmax") with tta =
     "flips" (the mean of the logits over the 8 flips of each window), cut into blocks of
     [32, 64, 64], and [output] pyramid = 2, pyramid_method = "mode": labels_s1, labels_s2;
   - "probabilities": restored -> workflow.zarr/probabilities (float32 [3, z, y, x], output =
     "softmax", the same flips).
   Output paths are relative to the workflow file (copy it elsewhere to run it again there);
   input and models are absolute. `volbatch run --prepare` of a probe job first: a model
   whose output channel count is not the number of classes is refused before any block runs.
6. TTA measured: the classify step again without tta (DIR/classify_notta.toml, over the
   workflow's restored volume) -> DIR/tta.json, per-class Dice and IoU with and without.
7. Metrics against the held-out labels: Dice and IoU of each class (dice_background,
   iou_background, dice_membrane, ...) of the workflow's argmax and of the baseline: two grey
   level thresholds on the same restored volume, after a gaussian smoothing (membrane below
   t1, organelle in [t1, t2), background above: the classes' order of grey levels), with
   sigma in {0, 0.5, 1} and t1 < t2 chosen on the restored *training* volume to maximise the
   mean Dice (an exhaustive search on its histograms, so a tuned baseline). Written to
   DIR/metrics.json as a list of {"metric", "model", "baseline", "higher_is_better"}; times
   to DIR/timings.json. The label pyramid's levels and the probabilities' sum to 1 are checked.

--quick: small volumes and 200 steps (~25 s on 2 idle cores, ~2 min when shared with other
jobs), what the test suite runs; the default (full): 500 steps, ~2 min idle. --model PT runs
an existing TorchScript model instead of training one.
"""
import argparse
import hashlib
import itertools
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The examples' shared helpers; importing them also puts models/ on sys.path (synthetic_em,
# train_denoiser).
from recipe import ROOT, check_args, fail, start, volbatch, write_results  # noqa: E402

DENOISER = os.path.join(ROOT, "models", "denoise3d", "denoise3d.pt")
NOISE_SIGMA = 20.0            # what the denoiser was trained for
CLASSES = ("background", "membrane", "organelle")
HALO = 5                      # five 3x3x3 convolutions
TRAIN_WINDOW = (20, 48, 48)
# Windows whose centre, less the halo, is [32, 64, 64]: the quick volume is 1 x 2 x 2 of them,
# the full one 2 x 3 x 3 (no window computed for a few voxels); 57% of a window is kept.
RUN_WINDOW = (42, 74, 74)
BLOCK = (32, 64, 64)          # the classify step's blocks: several, so it can be killed midway
PYRAMID = 2
SIGMAS = (0.0, 0.5, 1.0)      # the baseline's smoothing candidates


# ---- data ------------------------------------------------------------------------------------

def write_region(dir_, name, shape, seed):
    """Noisy raw (N5, gzip) and labels (Zarr v2, uint8, zstd) of one region; their paths."""
    import numcodecs
    import zarr
    from synthetic_em import synthetic_em_labeled
    raw, labels = synthetic_em_labeled((0, 0, 0), shape, seed=seed, noise_sigma=NOISE_SIGMA)
    n5 = os.path.join(dir_, f"{name}.n5")
    zarr.group(store=zarr.N5Store(n5)).create_dataset(
        "raw", data=raw, chunks=(32, 64, 64), compressor=numcodecs.GZip(5), overwrite=True)
    lab = os.path.join(dir_, f"{name}.zarr", "labels")
    z = zarr.open_array(lab, mode="w", shape=shape, chunks=(32, 64, 64), dtype=np.uint8,
                        compressor=numcodecs.Zstd(3))
    z[:] = labels
    return os.path.join(n5, "raw"), lab


def read_labels(path, field):
    """A label dataset (any volbatch format) as a uint8 array, or one line naming `field`."""
    import volbatch as vb
    if not os.path.exists(path):
        fail(f"{field}: {path}: no such dataset (a label volume, uint8, 0..C-1)")
    try:
        return np.asarray(vb.open(path)[...])
    except Exception as e:  # noqa: BLE001 -- any reader error ends in its one line
        fail(f"{field}: {path}: {e}")


def parse_classes(text, labels, path):
    names = [n.strip() for n in text.split(",")]
    if any(not n for n in names):
        fail(f"--classes: {text!r}: an empty class name")
    n = int(labels.max()) + 1
    if len(names) != n:
        fail(f"--classes: {len(names)} names ({', '.join(names)}) for the {n} classes of the "
             f"labels {path} (values 0..{n - 1})")
    return names


# ---- metrics and the baseline ----------------------------------------------------------------

def dice_iou(pred, truth, k):
    """Dice and IoU of class k (1 when neither has it)."""
    p, t = pred == k, truth == k
    inter = float(np.count_nonzero(p & t))
    total = float(np.count_nonzero(p) + np.count_nonzero(t))
    if total == 0:
        return 1.0, 1.0
    return 2 * inter / total, inter / (total - inter)


def scores(pred, truth, names):
    """{"dice_<name>": ..., "iou_<name>": ...} in class order."""
    out = {}
    for k, n in enumerate(names):
        out[f"dice_{n}"], out[f"iou_{n}"] = dice_iou(pred, truth, k)
    return out


def smooth(v, sigma):
    from scipy.ndimage import gaussian_filter
    v = np.asarray(v, np.float64)
    return gaussian_filter(v, sigma, mode="nearest") if sigma > 0 else v


def fit_thresholds(restored, labels, levels=1024):
    """(sigma, t1, t2, mean Dice) maximising the mean Dice on the training volume of: label 1
    (membrane, darkest) below t1, 2 (organelle) in [t1, t2), 0 (background) from t2. Every
    threshold pair on a 1/4-grey-level grid, from per-class cumulative histograms."""
    best = None
    for sigma in SIGMAS:
        q = np.clip(np.floor(smooth(restored, sigma) * 4), 0, levels - 1).astype(np.int64)
        hist = np.stack([np.bincount(q[labels == k], minlength=levels) for k in range(3)])
        cum = np.concatenate([np.zeros((3, 1)), np.cumsum(hist, 1)], 1)  # below threshold t
        n = cum[:, -1]
        tot = cum.sum(0)
        t1, t2 = np.meshgrid(np.arange(levels + 1), np.arange(levels + 1), indexing="ij")
        ok = t1 <= t2
        with np.errstate(invalid="ignore", divide="ignore"):
            d_mem = 2 * cum[1][t1] / (tot[t1] + n[1])
            d_org = 2 * (cum[2][t2] - cum[2][t1]) / (tot[t2] - tot[t1] + n[2])
            d_bg = 2 * (n[0] - cum[0][t2]) / (tot[-1] - tot[t2] + n[0])
        mean = np.where(ok, np.nan_to_num(d_mem + d_org + d_bg) / 3, -1)
        i = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if best is None or mean[i] > best[3]:
            best = (sigma, i[0] / 4.0, i[1] / 4.0, float(mean[i]))
    return best


def threshold_labels(restored, sigma, t1, t2):
    v = smooth(restored, sigma)
    out = np.zeros(v.shape, np.uint8)
    out[v < t2] = 2
    out[v < t1] = 1
    return out


# ---- the model -------------------------------------------------------------------------------

def centred(x):
    """Restored grey levels / 255 have mean ~0.6 and sd ~0.2 here: centred and scaled, the
    first layer's ReLUs start where the classes differ, and training converges faster."""
    return (x - 0.6) * 5.0


def make_model(channels=8, classes=3):
    import torch.nn as nn
    import torch.nn.functional as F

    class Classify3d(nn.Module):
        """Five 3x3x3 'same' convolutions 1 -> C -> C -> C -> C -> classes, ReLU between
        them: per-voxel class logits."""

        def __init__(self, c: int, k: int):
            super().__init__()
            self.c1 = nn.Conv3d(1, c, 3, padding=1)
            self.c2 = nn.Conv3d(c, c, 3, padding=1)
            self.c3 = nn.Conv3d(c, c, 3, padding=1)
            self.c4 = nn.Conv3d(c, c, 3, padding=1)
            self.c5 = nn.Conv3d(c, k, 3, padding=1)

        def forward(self, x):
            h = F.relu(self.c1(centred(x)))
            h = F.relu(self.c2(h))
            h = F.relu(self.c3(h))
            h = F.relu(self.c4(h))
            return self.c5(h)

    return Classify3d(channels, classes)


def train_forward(m, x):
    """Classify3d.forward with models/train_denoiser.py's faster-backward conv3d (the same
    gradients; see domain_translation.train_forward). Export uses plain conv3d."""
    import torch.nn.functional as F
    from train_denoiser import _Conv3dSame
    conv = _Conv3dSame.apply
    h = centred(x)
    for c in (m.c1, m.c2, m.c3, m.c4):
        h = F.relu(conv(h, c.weight, c.bias))
    return conv(h, m.c5.weight, m.c5.bias)


RDF = """\
# bioimage.io-style model description (model RDF 0.4 field names), written by
# examples/classify.py with the weights.
format_version: 0.4.10
type: model
name: volbatch-classify-{names}
description: >-
  Small 3-D CNN classifying the voxels of denoised synthetic EM volumes into {k} classes
  ({names_comma}): five 3x3x3 convolutions, 1-{c}-{c}-{c}-{c}-{k} channels, ReLU, per-voxel
  logits. Trained for {steps} steps on class-balanced windows of volbatch's synthetic EM
  generator (noise sigma 20) restored by models/denoise3d.
authors:
  - name: volbatch
license: MIT
tags: [semantic-segmentation, pixel-classification, 3d, electron-microscopy, synthetic, volbatch]
timestamp: "2024-01-01T00:00:00"
inputs:
  - name: restored
    description: denoised grey levels / 255
    axes: bczyx
    data_type: float32
    data_range: [0.0, 1.0]
    shape: [1, 1, {w[0]}, {w[1]}, {w[2]}]
    preprocessing:
      - name: scale_linear
        kwargs: {{axes: zyx, gain: 0.00392156862745098, offset: 0.0}}
outputs:
  - name: logits
    description: class logits ({names_comma}); softmax over c gives probabilities
    axes: bczyx
    data_type: float32
    shape: [1, {k}, {w[0]}, {w[1]}, {w[2]}]
    halo: [0, 0, {halo}, {halo}, {halo}]
weights:
  torchscript:
    source: classify.pt
    sha256: {sha256}
    pytorch_version: "{torch_version}"
"""


def class_weights(loader_batches, k):
    """1 / sqrt(share) of each class in the first batches' windows, scaled to mean 1: the
    balanced windows still hold mostly background; the square root keeps the rare class from
    dominating."""
    counts = np.zeros(k)
    for y in loader_batches:
        counts += np.bincount(y.numpy().ravel(), minlength=k)[:k]
    w = 1 / np.sqrt(np.maximum(counts, 1) / counts.sum())
    return w / w.mean()


def train(a, work, restored, labels, names):
    import torch
    import torch.nn.functional as F
    from volbatch.torch import WindowDataset
    k = len(names)
    ds = WindowDataset([{"path": restored, "name": "x", "normalize": [0, 255]},
                        {"path": labels, "name": "y", "kind": "label"}],
                       TRAIN_WINDOW, seed=a.seed, batch_size=4, length=4 * a.steps,
                       flip=True, rotate=True, balance="y", classes=list(range(k)), threads=2)
    loader = iter(torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0))
    h = HALO
    inner = (slice(None), slice(h, -h), slice(h, -h), slice(h, -h))
    # The class weights from the first 20 batches, which then train like the others.
    first = [(b["x"].clone(), b["y"].clone()) for b in itertools.islice(loader, 20)]
    weight = torch.tensor(class_weights([y[inner] for _, y in first], k), dtype=torch.float32)
    batches = itertools.chain(first, ((b["x"], b["y"]) for b in loader))
    model = make_model(a.channels, k)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps,
                                                pct_start=0.15)
    t0 = time.time()
    running = None
    for step, (x, y) in enumerate(batches, 1):
        logits = train_forward(model, x.unsqueeze(1))[(slice(None),) + inner]
        loss = F.cross_entropy(logits, y[inner].long(), weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % max(1, a.steps // 10) == 0 or step == a.steps:
            print(f"step {step:4d}  loss {running:.3f}  {time.time() - t0:5.1f} s", flush=True)
    model.eval()
    pt = os.path.join(work, "classify.pt")
    torch.jit.script(model).save(pt)
    sha = hashlib.sha256(open(pt, "rb").read()).hexdigest()
    with open(os.path.join(work, "rdf.yaml"), "w") as f:
        f.write(RDF.format(names="-".join(names), names_comma=", ".join(names), k=k,
                           c=a.channels, steps=a.steps, w=RUN_WINDOW, halo=HALO, sha256=sha,
                           torch_version=".".join(torch.__version__.split(".")[:2])))
    print(f"class weights {np.round(weight.numpy(), 2).tolist()}", flush=True)
    return pt


# ---- jobs and the workflow -------------------------------------------------------------------

RESTORE_JOB = """[input]
path = "{input}"
[output]
path = "{output}"
format = "zarr2"
dtype = "uint8"
chunks = [32, 64, 64]
codec = "zstd:3"
[operator]
type = "torch"
model = "{model}"
normalize = {{ range = [0, 255] }}
denormalize = true
[tiling]
blend = "gaussian"
"""

# The classify step's operator, shared by the workflow, the probe and the run without tta.
CLASSIFY_OP = """type = "torch"
model = "{model}"
window = [{w[0]}, {w[1]}, {w[2]}]
crop = [{halo}, {halo}, {halo}]
normalize = {{ range = [0, 255] }}
output = "{kind}"
"""

WORKFLOW = """# examples/classify.py: restoration -> classification (tta) -> label pyramid.
# Run: volbatch run workflow.toml; status: volbatch status workflow.toml. Output paths are
# relative to this file.

[[step]]
name = "restore"
input = {{ path = "{raw}" }}
tiling = {{ blend = "gaussian" }}
[step.output]
path = "workflow.zarr/restored"
format = "zarr2"
dtype = "uint8"
chunks = [32, 64, 64]
codec = "zstd:3"
[step.operator]
type = "torch"
model = "{denoiser}"
normalize = {{ range = [0, 255] }}
denormalize = true

[[step]]
name = "classify"
input = {{ step = "restore" }}
tiling = {{ block = [{b[0]}, {b[1]}, {b[2]}] }}
[step.output]
path = "workflow.zarr/labels"
format = "zarr2"
dtype = "uint8"
chunks = [{b[0]}, {b[1]}, {b[2]}]
codec = "zstd:3"
pyramid = {pyramid}
pyramid_method = "mode"
[step.operator]
{classify_op}tta = "flips"

[[step]]
name = "probabilities"
input = {{ step = "restore" }}
[step.output]
path = "workflow.zarr/probabilities"
format = "zarr2"
dtype = "float32"
codec = "zstd:3"
[step.operator]
{softmax_op}tta = "flips"
"""

LABEL_JOB = """[input]
path = "{input}"
[output]
path = "{output}"
format = "zarr2"
dtype = "{dtype}"
codec = "zstd:3"
[operator]
""" + CLASSIFY_OP


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def restore(exe, work, raw, out, threads):
    """The denoiser over `raw` into `out` with `volbatch run`, as `volbatch demo` runs it."""
    job = write(os.path.join(work, "restore_train.toml"),
                RESTORE_JOB.format(input=raw, output=out, model=DENOISER))
    volbatch(exe, "run", job, "--quiet", "--threads", str(threads))
    return out


def check_model(exe, work, raw, pt, k, threads):
    """volbatch's dry pass on a probe job (softmax, the model's channels): refuses a model
    whose output channel count is not k, before any block runs."""
    out = os.path.join(work, "probe.zarr", "probabilities")
    job = write(os.path.join(work, "probe.toml"),
                LABEL_JOB.format(input=raw, output=out, dtype="float32", model=pt,
                                 kind="softmax", w=RUN_WINDOW, halo=HALO))
    volbatch(exe, "run", job, "--prepare", "--force", "--quiet", "--threads", str(threads))
    shape = json.loads(volbatch(exe, "info", out, "--json"))["shape"]
    c = shape[0] if len(shape) == 4 else 1
    if c != k:
        fail(f"[operator] model: {pt} returns {c} output channels (volbatch prepared {out} as "
             f"{shape}); classifying into {k} classes needs {k} (one logit per class)")


def run_workflow(exe, work, raw, pt, threads):
    """Writes DIR/workflow.toml and runs it; the steps' output paths."""
    def op(kind):
        return CLASSIFY_OP.format(model=pt, w=RUN_WINDOW, halo=HALO, kind=kind)
    wf = write(os.path.join(work, "workflow.toml"),
               WORKFLOW.format(raw=raw, denoiser=DENOISER, b=BLOCK, pyramid=PYRAMID,
                               classify_op=op("argmax"), softmax_op=op("softmax")))
    volbatch(exe, "run", wf, "--quiet", "--threads", str(threads))
    out = os.path.join(work, "workflow.zarr")
    return wf, {n: os.path.join(out, n) for n in ("restored", "labels", "probabilities")}


def step_walls(exe, wf):
    """{step name: wall seconds of its last run} from `volbatch status WORKFLOW --json`."""
    st = json.loads(volbatch(exe, "status", wf, "--json"))
    return {s["name"]: s["status"].get("last_run", {}).get("wall_s") for s in st["steps"]}


def run_without_tta(exe, work, restored, pt, threads):
    out = os.path.join(work, "notta.zarr", "labels")
    job = write(os.path.join(work, "classify_notta.toml"),
                LABEL_JOB.format(input=restored, output=out, dtype="uint8", model=pt,
                                 kind="argmax", w=RUN_WINDOW, halo=HALO))
    volbatch(exe, "run", job, "--quiet", "--threads", str(threads))
    wall = json.loads(volbatch(exe, "status", out + ".volbatch", "--json"))["last_run"]["wall_s"]
    return out, wall


def check_outputs(outs, shape, k):
    """The label pyramid's levels (halved per level, labels only) and probabilities summing
    to 1; returns (level shapes, max |sum - 1|)."""
    import zarr
    levels = []
    for lv in range(1, PYRAMID + 1):
        path = f"{outs['labels']}_s{lv}"
        if not os.path.isdir(path):
            fail(f"[output] pyramid: {path}: level {lv} was not written")
        a = zarr.open_array(path, mode="r")[...]
        want = tuple(-(-s // 2 ** lv) for s in shape)
        if a.shape != want or a.dtype != np.uint8 or int(a.max()) >= k:
            fail(f"[output] pyramid: {path}: {a.shape} {a.dtype} max {a.max()}, expected {want} "
                 f"uint8 labels < {k}")
        levels.append(list(a.shape))
    p = zarr.open_array(outs["probabilities"], mode="r")[...]
    if p.shape != (k,) + tuple(shape):
        fail(f"[output] probabilities: {outs['probabilities']}: shape {p.shape}, expected "
             f"{(k,) + tuple(shape)}")
    dev = float(np.abs(p.astype(np.float64).sum(0) - 1).max())
    if dev > 1e-3:
        fail(f"[output] probabilities: {outs['probabilities']}: sums differ from 1 by {dev:.2e}")
    return levels, dev


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="working directory: data, model, workflow, "
                    "metrics.json, tta.json, timings.json")
    ap.add_argument("--quick", action="store_true", help="small volumes, 200 steps")
    ap.add_argument("--steps", type=int, help="training steps (default 500; --quick 200)")
    ap.add_argument("--channels", type=int, default=8, help="the network's hidden channels")
    ap.add_argument("--lr", type=float, default=1e-2, help="peak learning rate")
    ap.add_argument("--model", help="run this TorchScript model instead of training one")
    ap.add_argument("--labels", help="training labels (a dataset aligned with the training "
                    "raw; default: the generator's, written to DIR/train.zarr/labels)")
    ap.add_argument("--classes", default=",".join(CLASSES),
                    help="class names, one per label value 0..C-1 (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch and volbatch threads")
    ap.add_argument("--volbatch", help="the volbatch binary (default: build*/volbatch)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.steps is None:
        a.steps = 200 if a.quick else 500
    check_args(a, ("steps", "channels", "threads"))
    if not os.path.isfile(DENOISER):
        fail(f"{DENOISER}: the demo's denoiser is missing (models/train_denoiser.py)")
    return a


def training_labels(a, path, shape):
    """The training labels (--labels or the generator's) and the class names: one line naming
    the option when they do not fit."""
    if a.labels:
        path = os.path.abspath(a.labels)
    labels = read_labels(path, "--labels")
    if labels.shape != shape:
        fail(f"--labels: {path}: shape {labels.shape}, the training raw's is {shape}")
    names = parse_classes(a.classes, labels, path)
    if len(names) != len(CLASSES):
        fail(f"--labels: {path} has {len(names)} classes (0..{len(names) - 1}); the held-out "
             f"labels and the threshold baseline have {len(CLASSES)} ({', '.join(CLASSES)})")
    return path, labels, names


def timed(times, key, f, *args):
    t0 = time.time()
    r = f(*args)
    times[key] = time.time() - t0
    return r


def evaluate(outs, notta, eval_lab, train_restored, tr_labels, names, times):
    """metrics.json's list, the scores without tta, and the baseline's parameters."""
    import zarr

    def read(path):
        return zarr.open_array(path, mode="r")[...]
    t0 = time.time()
    sigma, t1, t2, fit = fit_thresholds(read(train_restored), tr_labels)
    base = threshold_labels(read(outs["restored"]), sigma, t1, t2)
    times["baseline_s"] = time.time() - t0
    print(f"baseline: gaussian sigma {sigma:g}, membrane < {t1:g} <= organelle < {t2:g} <= "
          f"background (training mean Dice {fit:.4f})")
    truth = read(eval_lab)
    model_s, base_s = scores(read(outs["labels"]), truth, names), scores(base, truth, names)
    metrics = [{"metric": m, "model": model_s[m], "baseline": base_s[m],
                "higher_is_better": True} for m in model_s]
    return metrics, scores(read(notta), truth, names)


def report(work, metrics, plain, times):
    tta = {"tta": "flips along z, y, x: 8 forward passes per window, logits averaged",
           "with_tta": {m["metric"]: m["model"] for m in metrics}, "without_tta": plain,
           "classify_wall_s": {"with_tta": times["steps_wall_s"]["classify"],
                               "without_tta": times["classify_notta_wall_s"]}}
    write_results(work, metrics=metrics, tta=tta, timings=times)
    print(f"{'metric':18s} {'model':>7s} {'baseline':>8s} {'no tta':>7s}")
    for m in metrics:
        print(f"{m['metric']:18s} {m['model']:7.4f} {m['baseline']:8.4f} "
              f"{plain[m['metric']]:7.4f}")
    walls = ", ".join(f"{n} {w:.1f} s" for n, w in times["steps_wall_s"].items())
    print(f"times: data {times['data_s']:.1f} s, restoring the training volume "
          f"{times['restore_train_s']:.1f} s, training {times['train_s']:.1f} s, workflow "
          f"{times['workflow_s']:.1f} s ({walls}), classify without tta "
          f"{times['classify_notta_wall_s']:.1f} s, baseline {times['baseline_s']:.1f} s; total "
          f"{times['total_s']:.1f} s; wrote {os.path.join(work, 'metrics.json')}")


def main():
    a = parse_args()
    train_shape = (32, 128, 128) if a.quick else (64, 256, 256)
    eval_shape = (32, 128, 128) if a.quick else (64, 192, 192)
    exe, work = start(a)
    times = {}
    t_start = time.time()

    train_raw, train_lab = write_region(work, "train", train_shape, seed=2)
    eval_raw, eval_lab = write_region(work, "heldout", eval_shape, seed=1)
    times["data_s"] = time.time() - t_start
    print(f"data: train {train_shape} (seed 2), held-out {eval_shape} (seed 1), noise sigma "
          f"{NOISE_SIGMA:g}, in {times['data_s']:.1f} s", flush=True)
    train_lab, tr_labels, names = training_labels(a, train_lab, train_shape)

    train_restored = timed(times, "restore_train_s", restore, exe, work, train_raw,
                           os.path.join(work, "train.zarr", "restored"), a.threads)
    print(f"restored the training volume with {os.path.relpath(DENOISER, ROOT)} in "
          f"{times['restore_train_s']:.1f} s", flush=True)
    if a.model:
        pt, times["train_s"] = os.path.abspath(a.model), 0.0
    else:
        pt = timed(times, "train_s", train, a, work, train_restored, train_lab, names)
        print(f"trained {a.steps} steps of 4 x {list(TRAIN_WINDOW)} in {times['train_s']:.1f} s;"
              f" exported {pt} and rdf.yaml", flush=True)
    check_model(exe, work, eval_raw, pt, len(names), a.threads)

    wf, outs = timed(times, "workflow_s", run_workflow, exe, work, eval_raw, pt, a.threads)
    print(f"volbatch run {wf} (restore, classify with tta + pyramid {PYRAMID}, probabilities) "
          f"over {eval_shape} in {times['workflow_s']:.1f} s", flush=True)
    notta, times["classify_notta_wall_s"] = run_without_tta(exe, work, outs["restored"], pt,
                                                            a.threads)
    times["steps_wall_s"] = step_walls(exe, wf)
    levels, dev = check_outputs(outs, eval_shape, len(names))
    print(f"label pyramid (mode): {levels}; probabilities sum to 1 within {dev:.1e}")

    metrics, plain = evaluate(outs, notta, eval_lab, train_restored, tr_labels, names, times)
    times["total_s"] = time.time() - t_start
    times["steps"] = 0 if a.model else a.steps
    report(work, metrics, plain, times)


if __name__ == "__main__":
    main()
