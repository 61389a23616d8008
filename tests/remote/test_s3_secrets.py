"""Credentials never leave the environment: with AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN set
to unique random strings (s3rver accepts any secret), copy, a job run by the processes executor,
status --json, report and failing commands (a missing bucket, an unknown access key, a refused
endpoint) are run; neither string appears in anything volbatch printed (stdout, stderr) nor in
any file it wrote: the job directory (job.json, ledgers, summaries, worker logs, report), the
outputs on S3 (every object of the bucket, downloaded) and local exports."""
import os
import secrets

import numpy as np

import engine_util as eu
import remote_util as ru


def test_secrets_appear_nowhere(volbatch, s3, bucket, tmp_path):
    secret = "SeCrEt" + secrets.token_hex(16)
    token = "ToKeN" + secrets.token_hex(24)
    env = s3.env(AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN=token)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    printed = []

    def vb(*args, check=True, **extra):
        p = ru.run(volbatch.exe, *args, env=dict(env, **extra), cwd=cwd, check=check,
                   timeout=180)
        printed.append((args, p.stdout + p.stderr))
        return p

    a = eu.em_volume((32, 48, 48), seed=9)
    raw = eu.write_zarr2(a, tmp_path / "in.zarr" / "raw", (16, 16, 16))
    url = f"s3://{bucket}/s/in.zarr/raw"
    vb("copy", raw, url)
    out = f"s3://{bucket}/s/out.zarr/o"
    job = eu.write_job(cwd / "job.toml", url, out, {"type": "gaussian", "sigma": [1.0, 1.0, 1.0]},
                       "float32", (16, 16, 16), tiling={"block": [16, 16, 16]})
    p = vb("run", job, "--executor", "processes", "--workers", 2, "--threads", 1)
    assert "18 done of 18" in p.stdout or "18 done" in p.stdout, p.stdout
    jobdir = cwd / "s3" / bucket / "s" / "out.zarr" / "o.volbatch"
    vb("status", jobdir, "--json")
    vb("status", jobdir)
    vb("report", jobdir)
    vb("info", out, "--json")
    vb("export", out, cwd / "out.npy")
    # Failing: every error line is printed with the environment holding both strings.
    assert vb("export", f"s3://no-such-bucket-5/x/raw", cwd / "x.npy", check=False).returncode == 1
    assert vb("info", url, check=False, AWS_ACCESS_KEY_ID="UNKNOWNKEY").returncode == 1
    assert vb("copy", raw, f"s3://{bucket}/s/other.zarr/raw", check=False,
              AWS_ENDPOINT_URL=f"http://127.0.0.1:{ru.free_port()}",
              AWS_MAX_ATTEMPTS="2").returncode == 1
    # A job whose workers all fail at start-up on the unknown key: their logs and lines too.
    job2 = eu.write_job(cwd / "job2.toml", url, f"s3://{bucket}/s/out2.zarr/o",
                        {"type": "identity"}, None, (16, 16, 16))
    assert vb("run", job2, "--executor", "processes", "--workers", 2, check=False,
              AWS_ACCESS_KEY_ID="UNKNOWNKEY").returncode == 1

    # What was checked is real: outputs, reports and logs exist.
    assert (jobdir / "report.html").is_file() and (jobdir / "job.json").is_file()
    files = {os.path.join(d, n) for d, _, ns in os.walk(cwd) for n in ns}
    assert any("/logs/" in f or "worker" in os.path.basename(f) for f in files), sorted(files)
    objects = ru.object_files(s3.client(), bucket)
    assert any(k.startswith("s/out.zarr/o/") for k in objects), sorted(objects)[:5]
    np.testing.assert_equal(np.load(cwd / "out.npy").shape, a.shape)

    for needle in (secret, token):
        for args, text in printed:
            assert needle not in text, (args, "printed a credential")
        for f in files:
            with open(f, "rb") as fh:
                assert needle.encode() not in fh.read(), f"{f} holds a credential"
        for k, v in objects.items():
            assert needle.encode() not in v, f"object {k} holds a credential"
