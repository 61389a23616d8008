"""`volbatch demo`, the main job end to end: it generates the noisy volume, converts it, runs the
engine and the denoising network, and ends with the PSNR before and after (the network must
gain at least 6 dB) and the path of the run report, which exists and has its previews."""
import os
import re


def test_demo_denoises_and_writes_its_report(volbatch, tmp_path):
    p = volbatch("demo", tmp_path / "demo")
    out = p.stdout
    m = re.search(r"PSNR against the clean volume: ([0-9.]+) dB noisy, ([0-9.]+) dB denoised", out)
    assert m, out
    assert float(m.group(2)) - float(m.group(1)) > 6.0, m.group(0)
    m = re.search(r"report of the denoising run \(plots, slice previews\): (\S+)", out)
    assert m, out
    path = m.group(1)
    assert path == str(tmp_path / "demo/demo.zarr/denoised.volbatch/report.html")
    html = open(path).read()
    assert html.count("<svg") == 4 and html.count('<img class="preview"') == 2
