"""The run report: `volbatch run` ends by writing JOBDIR/report.html and printing its path; the
page is self-contained (no http(s) reference), has its charts (throughput, blocks per worker,
time split, block map: counted by element) and two slice previews of the same size whose
pixels follow the data; headless Chromium renders it to a screenshot that is not blank."""
import base64
import os
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

import engine_util as eu


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def decode_png_gray(data):
    """The pixels of an 8-bit grayscale, non-interlaced PNG (what volbatch writes)."""
    import zlib
    w, h = png_size(data)
    pos, idat = 8, b""
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    out = np.zeros((h, w), np.int32)
    prev = np.zeros(w, np.int32)
    for y in range(h):
        f = raw[y * (w + 1)]
        line = np.frombuffer(raw[y * (w + 1) + 1:(y + 1) * (w + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(w, np.int32)
        for x in range(w):
            a = cur[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    return out


@pytest.fixture(scope="module")
def report(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    a = eu.em_volume((64, 96, 128), seed=11)
    raw = eu.write_zarr2(a, d / "in.zarr/raw")
    job = eu.write_job(d / "job.toml", raw, d / "out.zarr/smooth",
                       {"type": "gaussian", "sigma": 1.0}, "float32",
                       tiling={"block": [32, 32, 32]}, run={"threads": 2})
    p = volbatch("run", job)
    m = re.search(r"^report: (.+)$", p.stdout, re.M)
    assert m, p.stdout
    path = m.group(1)
    assert path == os.path.join(eu.jobdir_of(d / "out.zarr/smooth"), "report.html")
    return {"dir": d, "path": path, "html": open(path).read(), "input": a}


def test_the_page_has_its_charts_and_previews(report):
    html = report["html"]
    assert not re.search(r"(src|href)=\"https?:", html)  # nothing fetched
    assert html.count("<svg") == 4
    assert html.count("<polyline") == 1  # throughput over time
    assert html.count('class="block s1"') == 2 * 3 * 4  # every block done
    assert 'class="block s2"' not in html
    assert html.count('class="bar"') >= 1 + 3  # blocks per worker; read/compute/write
    ratio = float(re.search(r'id="ratio">([0-9.]+) : 1', html).group(1))
    assert ratio > 1.0
    imgs = re.findall(r'<img class="preview" width="(\d+)" height="(\d+)" alt="([^"]*)" '
                      r'src="data:image/png;base64,([^"]+)"', html)
    assert len(imgs) == 2
    sizes = []
    for w, h, alt, b64 in imgs:
        png = base64.b64decode(b64)
        assert png_size(png) == (int(w), int(h))
        sizes.append((int(w), int(h)))
    assert sizes[0] == sizes[1] == (128, 96)  # the middle z slice, whole (under 512 px)
    # The input preview is the data at z = 32, stretched: its order of brightness follows it.
    px = decode_png_gray(base64.b64decode(imgs[0][3]))
    data = report["input"][32].astype(np.float64)
    assert np.corrcoef(px.ravel(), data.ravel())[0, 1] > 0.95


def test_chromium_renders_it(report, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (scripts/setup.sh installs it)"
    shot = tmp_path / "shot.png"
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1200,1800",
                        "file://" + report["path"]], capture_output=True, text=True, timeout=120)
    assert shot.exists(), p.stderr
    data = shot.read_bytes()
    assert png_size(data) == (1200, 1800)
    assert len(data) > 30000  # a blank page compresses to a few KB


def test_report_command_and_errors(volbatch, report, tmp_path):
    jobdir = os.path.dirname(report["path"])
    os.remove(report["path"])
    p = volbatch("report", jobdir)
    assert "report: " in p.stdout and "4 charts, 2 slice previews" in p.stdout
    assert os.path.exists(report["path"])
    eu.one_line_error(volbatch("report", tmp_path / "nothing", check=False), "nothing",
                      "not a job directory")
