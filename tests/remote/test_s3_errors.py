"""Bad S3 locations and unreachable or refusing endpoints: each command ends within a deadline
with exit code 1 and one line on stderr that names the s3:// URL it was given (and the S3
error code where the server sent one), and leaves nothing half-written: no object in the
bucket and no job directory (nor any other file) under the working directory.

s3rver does not verify signatures, so "a private bucket read without credentials" cannot be
shown against it; instead unsigned requests (AWS_NO_SIGN_REQUEST=YES, no keys) are shown to
read a public dataset, and an access key s3rver does not know gives its InvalidAccessKeyId."""
import socket
import time

import numpy as np
import pytest

import engine_util as eu
import remote_util as ru

SHAPE = (16, 24, 24)


@pytest.fixture(scope="module")
def src(s3, tmp_path_factory):
    """A local dataset to copy and a public one on S3 to read."""
    d = tmp_path_factory.mktemp("errsrc")
    a = eu.em_volume(SHAPE, seed=2)
    local = eu.write_zarr2(a, d / "in.zarr" / "raw", (8, 8, 8))
    bucket = s3.bucket("public-data")
    ru.upload_tree(s3.client(), str(d / "in.zarr"), bucket, "p/in.zarr")
    return {"array": a, "local": local, "url": f"s3://{bucket}/p/in.zarr/raw"}


def run_fails(volbatch, cwd, env, args, needles, deadline_s=20):
    t0 = time.monotonic()
    p = ru.run(volbatch.exe, *args, env=env, cwd=cwd, check=False, timeout=deadline_s + 30)
    took = time.monotonic() - t0
    line = eu.one_line_error(p, *needles)
    assert took < deadline_s, f"took {took:.1f} s: {line}"
    assert ru.files_under(cwd) == [], ru.files_under(cwd)  # nothing written here
    return line


@pytest.mark.parametrize("url,needle", [
    ("s3://", "no bucket name"),
    ("s3:///x.zarr/raw", "no bucket name"),
    ("s3://Bad_Bucket/x.zarr/raw", "is not a bucket name"),
    ("s3://ab/x.zarr/raw", "is not a bucket name"),
    ("s3://good-bucket/a/../b", "not a valid key path"),
    ("ftp://bucket/x.zarr/raw", 'unknown scheme "ftp"'),
])
@pytest.mark.parametrize("direction", ["read", "write"])
def test_malformed_urls(volbatch, s3, src, tmp_path, url, needle, direction):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = ["export", url, tmp_path / "o.npy"] if direction == "read" else \
        ["copy", src["local"], url]
    run_fails(volbatch, cwd, s3.env(), args, [url, needle])
    assert not (tmp_path / "o.npy").exists()


def test_a_bucket_that_does_not_exist(volbatch, s3, src, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    url = "s3://no-such-bucket-17/x.zarr/raw"
    for args in (["export", url, tmp_path / "o.npy"], ["info", url],
                 ["copy", src["local"], url]):
        run_fails(volbatch, cwd, s3.env(), args, [url, "NoSuchBucket"])
    # A job writing there: refused before its job directory is made.
    job = eu.write_job(tmp_path / "job.toml", src["local"], url, {"type": "identity"}, None,
                       (8, 8, 8))
    run_fails(volbatch, cwd, s3.env(), ["run", job], [url, "NoSuchBucket"])
    assert "no-such-bucket-17" not in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]


def test_an_endpoint_refusing_connections(volbatch, s3, src, tmp_path, bucket):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    port = ru.free_port()  # nobody listens there
    env = s3.env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_MAX_ATTEMPTS="2")
    url = f"s3://{bucket}/x.zarr/raw"
    for args in (["export", url, tmp_path / "o.npy"], ["copy", src["local"], url]):
        line = run_fails(volbatch, cwd, env, args, [url, f"127.0.0.1:{port}", "AWS_ENDPOINT_URL"],
                         deadline_s=15)
        assert "2 attempts" in line, line
    assert ru.object_keys(s3.client(), bucket) == []


def test_an_endpoint_that_accepts_and_never_answers(volbatch, s3, src, tmp_path, bucket):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes the handshakes; nothing is ever read or sent
        port = silent.getsockname()[1]
        env = s3.env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_MAX_ATTEMPTS="2",
                     VOLBATCH_IO_TIMEOUT_S="1", VOLBATCH_CONNECT_TIMEOUT_S="1")
        url = f"s3://{bucket}/x.zarr/raw"
        for args in (["export", url, tmp_path / "o.npy"], ["copy", src["local"], url]):
            line = run_fails(volbatch, cwd, env, args, [url, f"127.0.0.1:{port}"], deadline_s=12)
            assert "2 attempts" in line, line
    assert ru.object_keys(s3.client(), bucket) == []


def test_an_unknown_access_key_is_refused_with_the_s3_code(volbatch, s3, src, tmp_path, bucket):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = s3.env(AWS_ACCESS_KEY_ID="NOSUCHKEY")
    out = f"s3://{bucket}/x.zarr/raw"
    for args in (["export", src["url"], tmp_path / "o.npy"], ["info", src["url"]]):
        line = run_fails(volbatch, cwd, env, args, [src["url"], "403", "InvalidAccessKeyId"])
        assert "NOSUCHKEY" in line and "AWS_ACCESS_KEY_ID" in line, line
    run_fails(volbatch, cwd, env, ["copy", src["local"], out], [out, "InvalidAccessKeyId"])
    # A job reading and writing S3 with that key: nothing on S3, no job directory here.
    job = eu.write_job(tmp_path / "job.toml", src["url"], out, {"type": "identity"}, None,
                       (8, 8, 8))
    run_fails(volbatch, cwd, env, ["run", job], [src["url"], "InvalidAccessKeyId"])
    assert ru.object_keys(s3.client(), bucket) == []


def test_unsigned_requests_read_a_public_dataset(volbatch, s3, src, tmp_path):
    # s3rver serves unsigned requests (it has no bucket policies); on AWS this is how a public
    # bucket is read. With no keys at all volbatch would say where it looked for them.
    env = {k: v for k, v in s3.env().items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    env["AWS_NO_SIGN_REQUEST"] = "YES"
    env["HOME"] = str(tmp_path)  # no ~/.aws to fall back on
    ru.run(volbatch.exe, "export", src["url"], tmp_path / "o.npy", env=env, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), src["array"])
