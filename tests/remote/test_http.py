"""Datasets served over HTTP by a real nginx (Range support), read-only.

`volbatch info`, `export` and `copy` from http:// URLs give what the same commands give on the
local files (N5 written by zarr-python, Zarr v2, sharded Zarr v3 written by volbatch). A small
region of a sharded array is read with Range requests: every request for the shard is answered
206, and the bytes nginx sent for it stay within 1.1x of the shard index plus the inner chunks
the region needs (from the shard's own index). Writing to an http:// URL (copy, import, a
job's output) is refused in one line naming the URL, exit 1, with nothing written: no request
but GET/HEAD reaches nginx, the served tree is unchanged and no job directory is left."""
import json
import os
import pathlib
import shutil
import struct
import tempfile

import numpy as np
import pytest
import zarr

import engine_util as eu
import remote_util as ru

SHAPE = (40, 64, 64)


@pytest.fixture(scope="module")
def served(volbatch):
    # nginx's worker runs as nobody: it cannot enter pytest's directories (mode 700).
    base = tempfile.mkdtemp(prefix="volbatch-www-")
    os.chmod(base, 0o755)
    root = pathlib.Path(base) / "www"
    root.mkdir()
    a = eu.em_volume(SHAPE, seed=8)
    np.save(root.parent / "a.npy", a)
    try:
        yield from _serve(volbatch, root, a)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _serve(volbatch, root, a):
    g = zarr.group(store=zarr.N5Store(str(root / "data.n5")))
    g.create_dataset("raw", data=a, chunks=(16, 16, 16), compressor=zarr.GZip(5))
    eu.write_zarr2(a, root / "data.zarr" / "raw", (16, 16, 16))
    volbatch("import", root.parent / "a.npy", root / "sharded.zarr" / "raw", "--chunks", "8,8,8",
             "--shards", "32,32,32", "--codec", "zstd:3")
    with ru.NginxServer(str(root)) as nginx:
        yield {"root": root, "nginx": nginx, "array": a}


DATASETS = {"n5": "data.n5/raw", "zarr2": "data.zarr/raw", "zarr3-sharded": "sharded.zarr/raw"}


@pytest.mark.parametrize("fmt", list(DATASETS))
def test_info_export_copy_over_http_equal_local(volbatch, served, tmp_path, fmt):
    local = served["root"] / DATASETS[fmt]
    url = f"{served['nginx'].url}/{DATASETS[fmt]}"
    li = json.loads(volbatch("info", local, "--json").stdout)
    ri = json.loads(volbatch("info", url, "--json").stdout)
    for k in ("format", "shape", "dtype", "chunks", "codecs", "fill_value"):
        assert ri.get(k) == li.get(k), (k, ri.get(k), li.get(k))
    volbatch("export", url, tmp_path / "r.npy")
    volbatch("export", local, tmp_path / "l.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "l.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), served["array"])
    volbatch("copy", url, tmp_path / "r.zarr" / "raw", "--format", "zarr2")
    np.testing.assert_array_equal(eu.read_zarr2(tmp_path / "r.zarr" / "raw"), served["array"])


def shard_index(path, inner_per_shard):
    """[(offset, nbytes)] of every inner chunk, from the index at the shard's end (16 bytes
    per chunk, then a crc32c)."""
    data = open(path, "rb").read()
    n = inner_per_shard
    index = data[len(data) - (16 * n + 4):len(data) - 4]
    return [struct.unpack_from("<QQ", index, 16 * i) for i in range(n)], 16 * n + 4


def test_a_small_region_of_a_shard_is_read_with_ranges(volbatch, served, tmp_path):
    nginx = served["nginx"]
    url = f"{nginx.url}/sharded.zarr/raw"
    seen = len(nginx.requests())
    # Voxels (1:3, 10:14, 17:23): inner chunks (0, 1, 2) of shard c/0/0/0 only.
    volbatch("export", url, tmp_path / "roi.npy", "--roi", "1:3,10:14,17:23")
    np.testing.assert_array_equal(np.load(tmp_path / "roi.npy"), served["array"][1:3, 10:14, 17:23])
    shard = "/sharded.zarr/raw/c/0/0/0"
    reqs = ru.wait_for(lambda: [r for r in nginx.requests()[seen:] if r[1] == shard] or None, 10,
                       "the shard's requests in nginx's access log")
    assert all(r[0] == "GET" and r[3] == 206 and r[2].startswith("bytes=") for r in reqs), reqs
    others = [r for r in nginx.requests()[seen:] if r[1].startswith("/sharded.zarr/raw/c/")
              and r[1] != shard]
    assert not others, others  # no other shard was touched
    entries, index_bytes = shard_index(served["root"] / "sharded.zarr/raw/c/0/0/0", 4 * 4 * 4)
    inner = entries[(0 * 4 + 1) * 4 + 2][1]
    assert 0 < inner < 8 * 8 * 8 * 2, entries[:8]
    sent = sum(r[4] for r in reqs)
    shard_size = os.path.getsize(served["root"] / "sharded.zarr/raw/c/0/0/0")
    assert sent <= 1.1 * (index_bytes + inner), (sent, index_bytes, inner, shard_size, reqs)


WRITES = {
    "copy": lambda u, local, npy: ["copy", local, u],
    "import": lambda u, local, npy: ["import", npy, u, "--chunks", "8,8,8"],
}


@pytest.mark.parametrize("cmd", list(WRITES))
def test_writing_to_http_is_refused_in_one_line(volbatch, served, tmp_path, cmd):
    nginx = served["nginx"]
    before = ru.files_under(served["root"])
    seen = len(nginx.requests())
    np.save(tmp_path / "a.npy", served["array"][:8, :8, :8])
    url = f"{nginx.url}/new.zarr/raw"
    p = volbatch(*WRITES[cmd](url, served["root"] / "data.zarr/raw", tmp_path / "a.npy"),
                 check=False)
    line = eu.one_line_error(p, url)
    assert "read-only" in line, line
    assert ru.files_under(served["root"]) == before
    assert all(r[0] in ("GET", "HEAD") for r in nginx.requests()[seen:]), nginx.requests()[seen:]


def test_a_job_output_at_http_is_refused_and_leaves_nothing(volbatch, served, tmp_path):
    nginx = served["nginx"]
    before = ru.files_under(served["root"])
    url = f"{nginx.url}/out.zarr/o"
    job = eu.write_job(tmp_path / "job.toml", served["root"] / "data.zarr/raw", url,
                       {"type": "gaussian", "sigma": [1.0, 1.0, 1.0]}, "float32", (16, 16, 16))
    p = ru.run(volbatch.exe, "run", job, "--quiet", cwd=tmp_path, check=False)
    line = eu.one_line_error(p, url)
    assert "read-only" in line, line
    assert ru.files_under(served["root"]) == before
    assert ru.files_under(tmp_path) == ["job.toml"], ru.files_under(tmp_path)
