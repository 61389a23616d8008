"""Helpers shared by the engine tests: test volumes, job files, the volbatch binary, and readers
for what a run leaves on disk (chunk files, ledgers, job.json)."""
import itertools
import json
import os
import signal
import struct
import subprocess
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- volumes --------------------------------------------------------------------------------

def em_volume(shape, seed=0):
    """uint8 with structure (smooth blobs, thin dark sheets) and noise: like electron microscopy."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    v = 120 + 45 * np.sin(z / 7.0 + y / 13.0) * np.cos(x / 9.0 - z / 17.0) + 30 * np.sin((x + y) / 5.0)
    v = v - 70 * (np.abs(np.sin((x - 0.6 * y + 0.3 * z) / 11.0)) < 0.12)  # membranes
    v = v + rng.normal(0, 12, shape)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def label_volume(shape, seed=0, cell=(5, 6, 7), labels=9):
    """uint32 labels: blocky cells whose borders do not align with any grid, plus speckle, so a
    mode over 2x2x2 groups has ties and majorities."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(1, labels + 1, [s // c + 2 for s, c in zip(shape, cell)]).astype(np.uint32)
    off = [rng.integers(0, c) for c in cell]
    idx = np.ix_(*[(np.arange(s) + o) // c for s, o, c in zip(shape, off, cell)])
    v = coarse[idx].copy()
    speckle = rng.random(shape) < 0.15
    v[speckle] = rng.integers(1, labels + 1, int(speckle.sum())).astype(np.uint32)
    return v


# ---- the program ----------------------------------------------------------------------------

def add_volbatch_option(parser):
    """The suites' shared `--volbatch PATH` option (default $VOLBATCH or build/volbatch)."""
    parser.addoption("--volbatch", action="store",
                     default=os.environ.get("VOLBATCH", "build/volbatch"),
                     help="path of the volbatch binary under test")


def volbatch_from_config(pytestconfig):
    """The Volbatch runner for the binary `--volbatch` names; fails the run if it is not one."""
    import pytest
    path = os.path.abspath(pytestconfig.getoption("--volbatch"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"--volbatch={path} is not an executable")
    return Volbatch(path)


class Volbatch:
    def __init__(self, exe):
        self.exe = exe

    def __call__(self, *args, check=True, timeout=300):
        p = subprocess.run([self.exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"volbatch {' '.join(map(str, args))} failed ({p.returncode}): "
                                 f"{p.stderr}")
        return p

    def popen(self, *args):
        return subprocess.Popen([self.exe, *map(str, args)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    def status(self, jobdir):
        return json.loads(self("status", jobdir, "--json").stdout)


def write_zarr2(a, dst, chunks=(32, 32, 32)):
    """Stores `a` as a Zarr v2 array at `dst` with zarr-python (zstd level 1), the inputs of
    every test: volbatch reads Zarr v2, and each volbatch start costs time."""
    import numcodecs
    import zarr
    dst = str(dst).rstrip("/")
    z = zarr.open_array(dst, mode="w", shape=a.shape, chunks=tuple(chunks), dtype=a.dtype,
                        compressor=numcodecs.Zstd(level=1))
    z[...] = a
    return dst


def read_zarr2(src):
    """An output written with format = "zarr2", read by zarr-python."""
    import zarr
    return zarr.open_array(str(src), mode="r")[...]


# ---- job files ------------------------------------------------------------------------------

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(e) for e in v) + "]"
    if isinstance(v, dict):  # an inline table: [run] slurm = {partition = "debug"}
        return "{" + ", ".join(f"{k} = {_toml_value(e)}" for k, e in v.items()) + "}"
    raise TypeError(v)


def toml_text(tables):
    """{"input": {...}, "output": {...}, ...} -> TOML; None values are left out."""
    lines = []
    for name, table in tables.items():
        if table is None:
            continue
        lines.append(f"[{name}]")
        for k, v in table.items():
            if v is not None:
                lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


def write_job(path, input, output, operator, dtype=None, chunks=(32, 32, 32), codec="zstd:1",
              tiling=None, run=None, output_extra=None, format=None):
    out = {"path": str(output), "format": format, "dtype": dtype, "chunks": list(chunks),
           "codec": codec}
    out.update(output_extra or {})
    tables = {"input": {"path": str(input)}, "output": out, "operator": operator,
              "tiling": tiling or None, "run": run or None}
    with open(path, "w") as f:
        f.write(toml_text(tables))
    return str(path)


def jobdir_of(output):
    return str(output).rstrip("/") + ".volbatch"


# ---- what a run leaves on disk --------------------------------------------------------------

def dataset_files(root):
    """{relative path: bytes} of every file under a dataset directory."""
    files = {}
    for d, _, names in os.walk(str(root)):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, str(root))] = f.read()
    return files


def file_stats(root):
    """{path: (inode, mtime_ns)} of every file under root: equal before and after a run when
    the run rewrote none of them (a rewrite renames a new file into place)."""
    out = {}
    for d, _, names in os.walk(str(root)):
        for n in names:
            st = os.stat(os.path.join(d, n))
            out[os.path.join(d, n)] = (st.st_ino, st.st_mtime_ns)
    return out


def claims_in_hand(jobdir):
    """What workers still hold (claims.h): holder files and temporaries under JOBDIR/claims.
    The run chain (claims/runs), the generation and runs given back by a stopped worker
    (holders/released.*, anyone's at once) stay after workers leave; executors remove the
    whole directory's content when their workers are gone."""
    d = os.path.join(str(jobdir), "claims")
    held = []
    if os.path.isdir(os.path.join(d, "holders")):
        held += [os.path.join("holders", n) for n in os.listdir(os.path.join(d, "holders"))
                 if not n.startswith("released.")]
    for sub, _, names in os.walk(d):
        held += [os.path.join(sub, n) for n in names if n.startswith(".")]
    return held


def temporaries(root):
    return [os.path.join(d, n) for d, _, names in os.walk(str(root)) for n in names
            if n.startswith(".") and ".tmp." in n]


def assert_same_files(a, b, what=""):
    """Bit-identical file sets (a, b: dataset_files dicts)."""
    assert sorted(a) == sorted(b), (what, sorted(set(a) ^ set(b))[:10])
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, (what, f"{len(differ)} of {len(a)} files differ, e.g. {differ[:5]}")


_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


LEDGER_MAGIC = b"VBL1"


def kill_when_blocks_done(proc, jobdir, blocks, timeout_s):
    """SIGKILLs `proc` once JOBDIR's ledgers record `blocks` done blocks (polled, for at most
    timeout_s); waits for it. Returns whether it was killed before it ended by itself."""
    deadline = time.monotonic() + timeout_s
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        done, _, _ = read_ledgers(jobdir)
        if len(done) >= blocks:
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.02)
    proc.wait()
    return killed


def read_ledgers(jobdir):
    """Parses JOBDIR/ledger/*.log (32-byte records, ledger.h) independently of volbatch.
    Returns (done block set, failed block set, counts dict). A torn tail is ignored, and so is
    a record with a bad CRC (counted)."""
    done, failed = set(), set()
    counts = {"records": 0, "bad": 0, "torn_bytes": 0}
    d = os.path.join(str(jobdir), "ledger")
    if not os.path.isdir(d):
        return done, failed, counts
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        whole = len(data) - len(data) % 32
        counts["torn_bytes"] += len(data) - whole
        for off in range(0, whole, 32):
            r = data[off:off + 32]
            magic, status, block, _time, _ms, crc = struct.unpack("<4sB3xQQII", r)
            if magic != LEDGER_MAGIC or crc != crc32c(r[:28]) or status not in (1, 2):
                counts["bad"] += 1
                continue
            counts["records"] += 1
            if status == 1:
                done.add(block)
            else:
                failed.add(block)
    return done, failed - done, counts


def job_json(jobdir):
    with open(os.path.join(str(jobdir), "job.json")) as f:
        return json.load(f)


def grid_shape(shape, block):
    return [-(-s // b) for s, b in zip(shape, block)]


def block_box(index, shape, block):
    """The region (begin, end) of block `index` in the C-order block grid."""
    g = grid_shape(shape, block)
    pos = np.unravel_index(index, g)
    begin = [int(p) * b for p, b in zip(pos, block)]
    end = [min(b0 + b, s) for b0, b, s in zip(begin, block, shape)]
    return begin, end


def chunk_keys(begin, end, chunks, sep="/", prefix="c/"):
    """Zarr v3 default chunk keys of every chunk overlapping [begin, end)."""
    ranges = [range(b // c, -(-e // c)) for b, e, c in zip(begin, end, chunks)]
    return [prefix + sep.join(map(str, idx)) for idx in itertools.product(*ranges)]


def one_line_error(p, *needles):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]
