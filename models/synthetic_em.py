"""A numpy port of volbatch's synthetic EM generator (src/volbatch/cli/synthetic_em.cc).

The volume is infinite and every voxel is a pure function of its position and the seed:
cells of a 3-D Voronoi tessellation (one seed point jittered inside each cube of side
`cell_size`), a grey level per cell, dark membranes where the two nearest seeds are about
equally far, a darker organelle blob around the seed in half of the cells, and noise (the sum
of four uniforms, rescaled to unit variance, times `noise_sigma` grey levels), rounded half
away from zero and clamped to [0, 255]. `noise_sigma = 0` gives the clean volume.
Ground-truth labels of the same geometry (synthetic_em_labels): 0 background (cytoplasm),
1 membrane (membrane weight > 0.5), 2 organelle (blob weight > 0.5, not membrane).

The hashes (SplitMix64's finaliser) run in numpy uint64 arithmetic (wrapping, like C++), the
geometry in float64 in the same order of operations as the C++ code, so the voxels are the
same as the C++ generator's bit for bit (checked against `volbatch demo`, see `--check`).

    from synthetic_em import synthetic_em, synthetic_em_pair, synthetic_em_labels
    raw = synthetic_em((0, 0, 0), (64, 64, 64), seed=1, noise_sigma=6)   # uint8 (z, y, x)
    noisy, clean = synthetic_em_pair((0, 0, 0), (64, 64, 64), seed=1, noise_sigma=20)
    labels = synthetic_em_labels((0, 0, 0), (64, 64, 64), seed=1)  # 0 / 1 membrane / 2 organelle
    noisy, labels = synthetic_em_labeled((0, 0, 0), (64, 64, 64), seed=1, noise_sigma=20)

Check against the C++ binary (runs a small `volbatch demo --noise 20` in a temporary
directory and compares its generated volume, DIR/demo.n5/raw, voxel for voxel):

    /usr/bin/python3 models/synthetic_em.py --check build/volbatch [--noise 20]
"""

import numpy as np

_U = np.uint64
_GOLDEN = _U(0x9E3779B97F4A7C15)
_M1 = _U(0xBF58476D1CE4E5B9)
_M2 = _U(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = _U(30), _U(27), _U(31), _U(11)


def _mix(x):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic, as in C++)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> _S30)) * _M1
        x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _unit(h):
    """A uint64 hash to a double in [0, 1): (h >> 11) * 2^-53 (exact)."""
    return (h >> _S11).astype(np.float64) * (2.0 ** -53)


def _as_u64(i):
    """static_cast<uint64_t>(int64): two's complement wrap for negative indices."""
    return np.asarray(i, dtype=np.int64).view(np.uint64)


def _cell_hash(seed, z, y, x):
    """CellHash(seed, z, y, x); z, y, x int64 arrays that broadcast against each other."""
    with np.errstate(over="ignore"):
        inner = _mix(_as_u64(y) * _U(0x3779B97F) ^ _as_u64(x))
        mid = _mix(_as_u64(z) * _U(0x1F1F1F1F) ^ inner)
    return _mix(_U(seed) ^ mid)


def _round_half_away(v):
    """std::lround: round half away from zero (numpy's round is half to even)."""
    t = np.trunc(v)
    f = v - t  # exact
    return t + np.where(f >= 0.5, 1.0, 0.0) - np.where(f <= -0.5, 1.0, 0.0)


def _to_uint8(v):
    return np.clip(_round_half_away(v), 0, 255).astype(np.uint8)


def _geometry(begin, shape, seed, cell_size):
    """The generator's geometry of every voxel, shared by the grey levels and the labels:
    (nearest seed's hash, membrane weight exp(-gap^2 / 2), blob weight, has_blob), where gap
    is half the difference of the distances to the two nearest seeds."""
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    s = float(cell_size)
    coords = [np.arange(b, b + n, dtype=np.int64) for b, n in zip(begin, shape)]
    zi, yi, xi = coords
    zf = zi.astype(np.float64)[:, None, None]
    yf = yi.astype(np.float64)[None, :, None]
    xf = xi.astype(np.float64)[None, None, :]
    # Cell of each voxel along each axis: floor(i / s), with the C++ double division.
    cells = [np.floor(c.astype(np.float64) / s).astype(np.int64) for c in coords]
    # Seeds and hashes of every cell the region's voxels (and their 27 neighbourhoods) touch.
    lo = [c.min() - 1 for c in cells]
    hi = [c.max() + 1 for c in cells]
    gz = np.arange(lo[0], hi[0] + 1, dtype=np.int64)[:, None, None]
    gy = np.arange(lo[1], hi[1] + 1, dtype=np.int64)[None, :, None]
    gx = np.arange(lo[2], hi[2] + 1, dtype=np.int64)[None, None, :]
    h = _cell_hash(seed, gz, gy, gx)
    pz = (gz.astype(np.float64) + 0.15 + 0.7 * _unit(_mix(h ^ _U(1)))) * s
    py = (gy.astype(np.float64) + 0.15 + 0.7 * _unit(_mix(h ^ _U(2)))) * s
    px = (gx.astype(np.float64) + 0.15 + 0.7 * _unit(_mix(h ^ _U(3)))) * s
    # Nearest and second-nearest seed over the 27 neighbouring cells, in the C++ loop order
    # and with its strict comparisons (ties keep the earlier cell).
    out_shape = tuple(shape)
    d1 = np.full(out_shape, 1e30)
    d2 = np.full(out_shape, 1e30)
    nearest = np.zeros(out_shape, dtype=np.uint64)
    rel = [c - l for c, l in zip(cells, lo)]
    for dz in (-1, 0, 1):
        iz = (rel[0] + dz)[:, None, None]
        for dy in (-1, 0, 1):
            iy = (rel[1] + dy)[None, :, None]
            for dx in (-1, 0, 1):
                ix = (rel[2] + dx)[None, None, :]
                qz, qy, qx = pz[iz, iy, ix], py[iz, iy, ix], px[iz, iy, ix]
                d = (zf - qz) * (zf - qz) + (yf - qy) * (yf - qy) + (xf - qx) * (xf - qx)
                closer = d < d1
                second = ~closer & (d < d2)
                d2 = np.where(closer, d1, np.where(second, d, d2))
                d1 = np.where(closer, d, d1)
                nearest = np.where(closer, h[iz, iy, ix], nearest)
    gap = (np.sqrt(d2) - np.sqrt(d1)) * 0.5
    membrane = np.exp(-gap * gap / 2.0)
    has_blob = _unit(_mix(nearest ^ _U(11))) < 0.5
    r = s * (0.12 + 0.12 * _unit(_mix(nearest ^ _U(13))))
    t = np.sqrt(d1) - r
    with np.errstate(over="ignore"):
        blob = 1.0 / (1.0 + np.exp(t))
    return nearest, membrane, blob, has_blob


def _clean_and_noise(begin, shape, seed, cell_size, geometry=None):
    """The clean grey value (float64, before rounding) and the unit noise g of every voxel.
    `geometry`: _geometry's result for this region, when the caller has it."""
    nearest, membrane, blob, has_blob = geometry or _geometry(begin, shape, seed, cell_size)
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    zi, yi, xi = [np.arange(b, b + n, dtype=np.int64) for b, n in zip(begin, shape)]
    v = 150 + 40 * _unit(_mix(nearest ^ _U(7)))
    v = v * (1 - membrane) + 35 * membrane
    v = np.where(has_blob, v * (1 - blob) + 75 * blob, v)
    # Noise: n = Mix(seed * 31 + CellHash(seed ^ 0xabcdef, z, y, x)).
    with np.errstate(over="ignore"):
        n = _mix(_U((seed * 31) & 0xFFFFFFFFFFFFFFFF) + _cell_hash(
            seed ^ 0xABCDEF, zi[:, None, None], yi[None, :, None], xi[None, None, :]))
    g = (_unit(n) + _unit(_mix(n ^ _U(1))) + _unit(_mix(n ^ _U(2))) + _unit(_mix(n ^ _U(3)))
         - 2.0) * 1.7320508
    return v, g


# Labels of synthetic_em_labels.
BACKGROUND, MEMBRANE, ORGANELLE = 0, 1, 2
LABEL_NAMES = ("background", "membrane", "organelle")


def _labels_of(membrane, blob, has_blob):
    """Membrane where its weight is > 0.5 (where the membrane's dark grey level outweighs the
    cell's: |gap| < sqrt(2 ln 2) = 1.18, sheets about 2.4 voxels thick); organelle where a
    cell's blob weight is > 0.5 (inside its radius) and the voxel is not membrane."""
    labels = np.zeros(membrane.shape, dtype=np.uint8)
    labels[has_blob & (blob > 0.5)] = ORGANELLE
    labels[membrane > 0.5] = MEMBRANE
    return labels


def synthetic_em(begin, shape, seed=1, cell_size=48.0, noise_sigma=6.0, slab=16):
    """uint8 (z, y, x) array of the region [begin, begin + shape) of the synthetic volume.

    Defaults are SyntheticEmOptions' (seed 1, cell size 48, noise sigma 6). Generated in
    z-slabs of `slab` planes to bound memory.
    """
    out = np.empty(tuple(shape), dtype=np.uint8)
    for z0 in range(0, shape[0], slab):
        nz = min(slab, shape[0] - z0)
        v, g = _clean_and_noise((begin[0] + z0, begin[1], begin[2]), (nz, shape[1], shape[2]),
                                seed, cell_size)
        if noise_sigma > 0:
            v = v + noise_sigma * g
        out[z0:z0 + nz] = _to_uint8(v)
    return out


def synthetic_em_pair(begin, shape, seed=1, cell_size=48.0, noise_sigma=20.0, slab=16):
    """(noisy, clean) uint8 arrays of one region: the same as two calls of synthetic_em with
    `noise_sigma` and with 0, computed once."""
    noisy = np.empty(tuple(shape), dtype=np.uint8)
    clean = np.empty(tuple(shape), dtype=np.uint8)
    for z0 in range(0, shape[0], slab):
        nz = min(slab, shape[0] - z0)
        v, g = _clean_and_noise((begin[0] + z0, begin[1], begin[2]), (nz, shape[1], shape[2]),
                                seed, cell_size)
        clean[z0:z0 + nz] = _to_uint8(v)
        noisy[z0:z0 + nz] = _to_uint8(v + noise_sigma * g) if noise_sigma > 0 \
            else clean[z0:z0 + nz]
    return noisy, clean


def synthetic_em_labels(begin, shape, seed=1, cell_size=48.0, slab=16):
    """uint8 (z, y, x) ground-truth labels of the region, the same geometry as synthetic_em's:
    0 background (cytoplasm), 1 membrane, 2 organelle (see _labels_of)."""
    out = np.empty(tuple(shape), dtype=np.uint8)
    for z0 in range(0, shape[0], slab):
        nz = min(slab, shape[0] - z0)
        _, membrane, blob, has_blob = _geometry((begin[0] + z0, begin[1], begin[2]),
                                                (nz, shape[1], shape[2]), seed, cell_size)
        out[z0:z0 + nz] = _labels_of(membrane, blob, has_blob)
    return out


def synthetic_em_labeled(begin, shape, seed=1, cell_size=48.0, noise_sigma=20.0, slab=16):
    """(raw, labels) uint8 arrays of one region: synthetic_em with `noise_sigma` and
    synthetic_em_labels, from one computation of the geometry."""
    raw = np.empty(tuple(shape), dtype=np.uint8)
    labels = np.empty(tuple(shape), dtype=np.uint8)
    for z0 in range(0, shape[0], slab):
        nz = min(slab, shape[0] - z0)
        b, sh = (begin[0] + z0, begin[1], begin[2]), (nz, shape[1], shape[2])
        geometry = _geometry(b, sh, seed, cell_size)
        v, g = _clean_and_noise(b, sh, seed, cell_size, geometry)
        raw[z0:z0 + nz] = _to_uint8(v + noise_sigma * g if noise_sigma > 0 else v)
        labels[z0:z0 + nz] = _labels_of(*geometry[1:])
    return raw, labels


def _check(volbatch, shape=(64, 96, 80), noise_sigma=20.0):
    """Compare with `volbatch demo --noise SIGMA` (seed 1, cell size 48)."""
    import os
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([volbatch, "demo", d, "--depth", str(shape[0]), "--height",
                        str(shape[1]), "--width", str(shape[2]), "--noise", str(noise_sigma)],
                       check=True,
                       stdout=subprocess.DEVNULL)
        npy = os.path.join(d, "raw.npy")
        subprocess.run([volbatch, "export", os.path.join(d, "demo.n5", "raw"), npy], check=True,
                       stdout=subprocess.DEVNULL)
        ref = np.load(npy)
    mine = synthetic_em((0, 0, 0), shape, noise_sigma=noise_sigma)
    diff = int(np.count_nonzero(ref != mine))
    print(f"volbatch demo {shape}, noise {noise_sigma:g}: {diff} of {ref.size} voxels differ "
          f"(max |diff| {int(np.abs(ref.astype(int) - mine.astype(int)).max())})")
    return diff == 0


if __name__ == "__main__":
    import argparse
    import sys
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", metavar="VOLBATCH", help="compare with this volbatch binary's demo")
    p.add_argument("--shape", default="64,96,80")
    p.add_argument("--noise", type=float, default=20.0)
    a = p.parse_args()
    if a.check:
        sys.exit(0 if _check(a.check, tuple(int(s) for s in a.shape.split(",")), a.noise) else 1)
    p.print_help()
