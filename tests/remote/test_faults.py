"""volbatch against an object store that fails: a fault-injecting proxy (s3_proxy.py) between
volbatch and a real s3rver resets connections, answers 500, 503 and SlowDown, stalls past the
client's timeout and cuts bodies short, on a seeded schedule. Copies and a multi-worker job
still end with exactly the bytes a fault-free run gives (objects compared with what a direct
upload wrote, arrays with numpy); the proxy's counters show each kind of fault happened. With
every request failing, a command ends within its retry budget with one line naming the URL and
the last cause, and leaves nothing half-written.
"""
import os
import subprocess
import time

import numpy as np
import pytest
import zarr

import engine_util as eu
import remote_util as ru
from s3_proxy import KINDS, S3Proxy

# Retried requests in the fault-rate tests: at a 30% rate, a request failing 10 times in a row
# has odds of 6e-6; a stalled attempt is abandoned after 1 s.
FAULTY_ENV = {"AWS_MAX_ATTEMPTS": "10", "VOLBATCH_IO_TIMEOUT_S": "1",
              "VOLBATCH_IO_BUDGET_S": "60"}
RATE = 0.3
# Each kind in turn (s3_proxy's rounds), a stall (1 to 2 s of waiting) half as often as the rest.
RATE_KINDS = list(KINDS) + [k for k in KINDS if k != "stall"]
# The fail-every-request tests: 3 attempts, a 1 s stall timeout, a 2 s budget.
ATTEMPTS, TIMEOUT_S, BUDGET_S = 3, 1, 2
# No retry starts after the budget; one started just before it can stall for the timeout, which
# libcurl checks once a second; plus the program's start and the test's own slack.
DEADLINE_S = BUDGET_S + TIMEOUT_S + 1 + 3
FAIL_ENV = {"AWS_MAX_ATTEMPTS": str(ATTEMPTS), "VOLBATCH_IO_TIMEOUT_S": str(TIMEOUT_S),
            "VOLBATCH_IO_BUDGET_S": str(BUDGET_S)}
# What each kind of fault leaves as the last cause.
CAUSES = {"reset": "Connection reset by peer", "500": "HTTP 500 InternalError",
          "503": "HTTP 503 ServiceUnavailable", "slowdown": "HTTP 503 SlowDown",
          "stall": "too slow", "truncate": "bytes remaining to read",
          "reset_body": "Connection reset by peer"}


@pytest.fixture
def proxy(s3):
    p = S3Proxy(s3.port, stall_s=30).start()
    yield p
    p.stop()


def run(volbatch, s3, proxy, *args, timeout=120, **env):
    """volbatch through the proxy; (completed process, seconds)."""
    t = time.monotonic()
    p = subprocess.run([volbatch.exe, *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=s3.env(AWS_ENDPOINT_URL=proxy.endpoint, **env))
    return p, time.monotonic() - t


def objects(s3, bucket, prefix):
    """{key below prefix: bytes} as s3rver holds them (read directly, not through the proxy)."""
    c = s3.client()
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) + 1:]] = c.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def assert_faults(counts, kinds, what):
    missing = [k for k in kinds if counts["faults"].get(k, 0) == 0]
    assert not missing, f"{what}: no {missing} fault happened: {counts}"


# ---- the proxy itself -------------------------------------------------------------------------

def test_proxy_passes_requests_through_on_kept_alive_connections(volbatch, s3, bucket, proxy,
                                                                 tmp_path):
    """Without faults the proxy changes nothing, counts every body byte, and volbatch reuses its
    connections through it."""
    a = eu.em_volume((32, 64, 64), seed=7)
    src = eu.write_zarr2(a, tmp_path / "src.zarr" / "raw", chunks=(8, 16, 16))  # 64 chunks
    p, _ = run(volbatch, s3, proxy, "copy", src, f"s3://{bucket}/p/v.zarr/raw", "--format",
               "zarr2", VOLBATCH_IO_CONCURRENCY="4")
    assert p.returncode == 0, p.stderr
    up = proxy.counts()
    stored = objects(s3, bucket, "p/v.zarr")
    assert up["requests"]["PUT"] == len(stored)
    assert up["bytes_up"]["PUT"] == sum(len(v) for v in stored.values())
    assert up["faults"] == {}
    assert up["connections"] <= 4 + 1 < up["total_requests"] / 10
    proxy.reset_counts()
    back = tmp_path / "back.zarr" / "raw"
    p, _ = run(volbatch, s3, proxy, "copy", f"s3://{bucket}/p/v.zarr/raw", back, "--format",
               "zarr2", VOLBATCH_IO_CONCURRENCY="4")
    assert p.returncode == 0, p.stderr
    down = proxy.counts()
    np.testing.assert_array_equal(eu.read_zarr2(back), a)
    chunks = {k: v for k, v in stored.items() if not k.split("/")[-1].startswith(".")}
    paths = {f"/{bucket}/p/v.zarr/{k}" for k in chunks}
    chunk_gets = [e for e in proxy.log if e[0] == "GET" and e[3] == 200 and e[1] in paths]
    assert len(chunk_gets) == len(chunks)
    assert sum(e[4] for e in chunk_gets) == sum(len(v) for v in chunks.values())
    assert down["connections"] <= 4 + 1


# ---- at a fault rate, the bytes are exact ---------------------------------------------------

@pytest.mark.parametrize("fmt", ["zarr2", "zarr3"])
def test_copy_to_s3_and_back_through_faults_is_exact(volbatch, s3, bucket, proxy, tmp_path, fmt):
    if fmt == "zarr2":
        a = eu.em_volume((48, 96, 96), seed=11)
        src = eu.write_zarr2(a, tmp_path / "src.zarr" / "raw", chunks=(16, 16, 16))
        layout = ["--chunks", "16,16,16"]
        back_chunks = "16,16,16"
    else:
        a = eu.em_volume((64, 128, 128), seed=12)
        src = eu.write_zarr2(a, tmp_path / "src.zarr" / "raw", chunks=(16, 32, 32))
        layout = ["--chunks", "8,16,16", "--shards", "16,32,32"]  # 64 shards of 16 chunks
        back_chunks = "24,24,24"  # most reads take part of a shard: ranged GETs, the index last
    # The reference: the same copy straight to s3rver.
    volbatch("copy", src, f"s3://{bucket}/direct/v.zarr/raw", "--format", fmt, *layout)

    proxy.configure(rate=RATE, seed=17, kinds=RATE_KINDS)
    url = f"s3://{bucket}/faulty/v.zarr/raw"
    p, _ = run(volbatch, s3, proxy, "copy", src, url, "--format", fmt, *layout, **FAULTY_ENV)
    assert p.returncode == 0, p.stderr
    up = proxy.counts()
    proxy.reset_counts()
    back = tmp_path / "back.zarr" / "raw"
    p, _ = run(volbatch, s3, proxy, "copy", url, back, "--format", "zarr2",
               "--chunks", back_chunks, **FAULTY_ENV)
    assert p.returncode == 0, p.stderr
    down = proxy.counts()

    # Every object is the one a fault-free copy writes, none missing, none extra.
    assert objects(s3, bucket, "faulty/v.zarr") == objects(s3, bucket, "direct/v.zarr")
    np.testing.assert_array_equal(eu.read_zarr2(back), a)
    if fmt == "zarr2":  # and another reader agrees
        local = tmp_path / "down.zarr"
        ru.download_tree(s3.client(), bucket, "faulty/v.zarr", str(local))
        np.testing.assert_array_equal(zarr.open_array(str(local / "raw"), mode="r")[...], a)
    # The faults happened: the answers cut short land on GETs of the read; on the upload's
    # PUTs they drop the answer of a request the server did carry out (`lost_answer`).
    assert_faults({"faults": {k: up["faults"].get(k, 0) + down["faults"].get(k, 0)
                              for k in set(up["faults"]) | set(down["faults"])}},
                  ["reset", "500", "503", "slowdown", "stall"], "copy up and down")
    assert_faults(down, ["truncate", "reset_body"], "copy down")
    assert_faults(up, ["lost_answer"], "copy up")
    for c in (up, down):
        assert sum(c["faults"].values()) > 0.15 * sum(c["requests"].values()), c
    # Bytes were counted on the way: the upload carried at least every object once.
    stored = sum(len(v) for v in objects(s3, bucket, "direct/v.zarr").values())
    assert up["bytes_up"]["PUT"] >= stored
    assert down["bytes_down"]["GET"] > 0


def test_job_on_s3_with_workers_through_faults_writes_the_local_result(volbatch, s3, bucket,
                                                                       proxy, tmp_path):
    a = eu.em_volume((64, 128, 128), seed=21)
    raw = eu.write_zarr2(a, tmp_path / "in.zarr" / "raw", chunks=(32, 32, 32))
    op = {"type": "gaussian", "sigma": [1.5, 1.5, 1.5]}
    ref_out = tmp_path / "ref.zarr" / "o"
    volbatch("run", eu.write_job(tmp_path / "ref.toml", raw, ref_out, op, "float32", (32, 32, 32),
                                 tiling={"block": [32, 32, 32]}, format="zarr2"),
             "--executor", "local", "--threads", 2, "--quiet")
    ru.upload_tree(s3.client(), str(tmp_path / "in.zarr"), bucket, "job/in.zarr")

    proxy.configure(rate=RATE, seed=23, kinds=RATE_KINDS)
    job = eu.write_job(tmp_path / "job.toml", f"s3://{bucket}/job/in.zarr/raw",
                       f"s3://{bucket}/job/out.zarr/o", op, "float32", (32, 32, 32),
                       tiling={"block": [32, 32, 32]}, format="zarr2",
                       run={"jobdir": str(tmp_path / "job.volbatch")})
    p, _ = run(volbatch, s3, proxy, "run", job, "--executor", "processes", "--workers", 3,
               "--threads", 1, "--quiet", timeout=180, **FAULTY_ENV)
    assert p.returncode == 0, p.stderr
    counts = proxy.counts()
    assert objects(s3, bucket, "job/out.zarr/o") == eu.dataset_files(ref_out)
    assert_faults(counts, KINDS, "job")
    assert counts["requests"]["GET"] > 0 and counts["requests"]["PUT"] > 0


# ---- every request fails: one line, exit 1, within the budget, nothing half-written -----------

@pytest.fixture
def stored(volbatch, s3, bucket, tmp_path):
    """A Zarr v2 array on s3rver (written directly) and its local copy as the reference."""
    a = eu.em_volume((48, 96, 96), seed=31)
    src = eu.write_zarr2(a, tmp_path / "src.zarr" / "raw", chunks=(16, 16, 16))
    volbatch("copy", src, f"s3://{bucket}/good/v.zarr/raw", "--format", "zarr2")
    ref = tmp_path / "ref.zarr" / "raw"
    volbatch("copy", f"s3://{bucket}/good/v.zarr/raw", ref, "--format", "zarr2")
    return {"bucket": bucket, "src": src, "ref": ref, "a": a}


def assert_gave_up(p, seconds, proxy, url_part, cause):
    line = eu.one_line_error(p, url_part, cause)
    assert proxy.endpoint in line, line
    assert seconds < DEADLINE_S, f"{seconds:.1f} s > {DEADLINE_S} s: {line}"
    # No request was tried more often than AWS_MAX_ATTEMPTS says; libcurl itself sends a request
    # once more on a new connection when a kept-alive one is reset before any answer (as a
    # server's idle timeout does), so a reset can cost two requests per attempt.
    limit = 2 * ATTEMPTS if cause == CAUSES["reset"] else ATTEMPTS
    per_request = {}
    for method, path, rng, _, _, fault, _ in proxy.log:
        if fault:
            per_request[(method, path, rng)] = per_request.get((method, path, rng), 0) + 1
    assert 1 <= max(per_request.values()) <= limit, per_request
    return line


@pytest.mark.parametrize("kind", KINDS)
def test_every_request_failing_ends_within_the_budget(volbatch, s3, proxy, stored, tmp_path,
                                                      kind):
    bucket = stored["bucket"]
    proxy.configure(kinds=[kind], fail_from=0)
    # Reading: the first request fails for good; no output appears.
    dst = tmp_path / "dst.zarr" / "raw"
    p, took = run(volbatch, s3, proxy, "copy", f"s3://{bucket}/good/v.zarr/raw", dst,
                  "--format", "zarr2", timeout=60, **FAIL_ENV)
    assert_gave_up(p, took, proxy, f"/{bucket}/good/v.zarr/raw/", CAUSES[kind])
    assert proxy.counts()["faults"][kind] >= 1
    assert not eu.temporaries(tmp_path) and not os.path.exists(dst)
    # Writing: nothing reaches the bucket.
    proxy.reset_counts()
    p, took = run(volbatch, s3, proxy, "copy", stored["src"], f"s3://{bucket}/new/v.zarr/raw",
                  "--format", "zarr2", timeout=60, **FAIL_ENV)
    assert_gave_up(p, took, proxy, f"/{bucket}/new/v.zarr/raw/", CAUSES[kind])
    assert objects(s3, bucket, "new") == {}


@pytest.mark.parametrize("after,kind", [(3, "reset"), (40, "reset"), (40, "stall")])
def test_failing_midway_leaves_only_whole_values(volbatch, s3, proxy, stored, tmp_path, after,
                                                 kind):
    """From request `after` on every request fails: what was written before is exact (whole
    chunks and metadata identical to a complete copy's), the rest absent, no temporaries. With
    stalls, the uploads in flight are abandoned within the timeout (not libcurl's ~6 s)."""
    bucket = stored["bucket"]
    proxy.configure(kinds=[kind], fail_from=after)
    p, took = run(volbatch, s3, proxy, "copy", stored["src"], f"s3://{bucket}/part/v.zarr/raw",
                  "--format", "zarr2", timeout=60, **FAIL_ENV)
    assert_gave_up(p, took, proxy, f"/{bucket}/", CAUSES[kind])
    partial, complete = objects(s3, bucket, "part/v.zarr"), objects(s3, bucket, "good/v.zarr")
    assert len(partial) < len(complete)
    for key, value in partial.items():
        assert complete.get(key) == value, key

    proxy.reset_counts()
    proxy.configure(fail_from=proxy.requests_served() + after)
    dst = tmp_path / "part.zarr" / "raw"
    p, took = run(volbatch, s3, proxy, "copy", f"s3://{bucket}/good/v.zarr/raw", dst,
                  "--format", "zarr2", timeout=60, **FAIL_ENV)
    assert_gave_up(p, took, proxy, f"/{bucket}/good/v.zarr/raw/", CAUSES[kind])
    assert not eu.temporaries(tmp_path)
    if os.path.exists(dst.parent):
        ref = eu.dataset_files(stored["ref"].parent)
        got = eu.dataset_files(dst.parent)
        assert len(got) < len(ref)
        for name, value in got.items():
            assert ref.get(name) == value, name
