"""Real object-store and HTTP servers on loopback for the tests and bench/storage.

S3Server: npm s3rver (tests/interop/node_modules), credentials S3RVER/S3RVER, region us-east-1,
path-style URLs http://127.0.0.1:PORT/BUCKET/KEY. Node 20 rejects the DES cipher s3rver encrypts
continuation tokens with, so it runs with --openssl-legacy-provider (else every truncated
listing is a 500). s3rver does not verify SigV4 signatures and writes objects in place (a
reader can see a torn value), which AWS S3 does not do.

NginxServer: nginx-light serving a directory with Range support, from a private config; its
access log records method, path, Range header, status and bytes sent per request.

Both start on a free port, are waited for by polling the port until a deadline, and are
stopped by their PID (SIGTERM, then SIGKILL).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
S3RVER = os.path.join(ROOT, "tests", "interop", "node_modules", "s3rver", "bin", "s3rver.js")
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
REGION = "us-east-1"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Server:
    """A child process serving on `port`; started by start(), stopped by stop()."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"volbatch-{name}-")
        self.log = os.path.join(self.dir, f"{name}.log")
        self.proc = None

    def _spawn(self, argv, deadline_s=30):
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        end = time.monotonic() + deadline_s
        while not accepts(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n"
                                   + open(self.log, errors="replace").read())
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"{self.name} did not accept on port {self.port} in "
                                   f"{deadline_s} s:\n" + open(self.log, errors="replace").read())
            time.sleep(0.02)

    # SIGTERM first (nginx finishes its log lines); s3rver can take 10-20 s to act on it and
    # has nothing to keep, so it gets SIGKILL at once.
    stop_signal = signal.SIGTERM

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()


class S3Server(_Server):
    stop_signal = signal.SIGKILL

    def __init__(self):
        super().__init__("s3rver")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        if not os.path.exists(S3RVER):
            raise RuntimeError(f"{S3RVER} is missing: run scripts/setup.sh (npm s3rver)")
        self._spawn(["node", "--openssl-legacy-provider", S3RVER, "--address", "127.0.0.1",
                     "--port", str(self.port), "--directory", self.data, "--silent"])
        return self

    def env(self, **extra):
        """The environment volbatch reads its S3 settings from, as every AWS tool does."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("AWS_"):
                del e[k]
        e.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                  "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint})
        e.update(extra)
        return e

    def client(self, max_pool_connections=10):
        """boto3, the independent client."""
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(max_pool_connections=max_pool_connections,
                                          retries={"max_attempts": 3}))

    def bucket(self, name):
        """Creates bucket `name` (3 to 63 characters) and returns its name."""
        self.client().create_bucket(Bucket=name)
        return name


def upload_tree(client, local_dir, bucket, prefix):
    """Every file under local_dir as bucket/prefix/<relative path>."""
    for d, _, names in os.walk(local_dir):
        for n in names:
            p = os.path.join(d, n)
            key = prefix.rstrip("/") + "/" + os.path.relpath(p, local_dir).replace(os.sep, "/")
            client.upload_file(p, bucket, key)


def download_tree(client, bucket, prefix, local_dir):
    """Every object below bucket/prefix/ into local_dir, at its relative key."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix.rstrip("/")) + 1:]
            dst = os.path.join(local_dir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            client.download_file(bucket, o["Key"], dst)


class NginxServer(_Server):
    """Serves `root` read-only; access_log lines are 'METHOD URI "RANGE" STATUS BYTES'."""

    def __init__(self, root):
        super().__init__("nginx")
        self.root = os.path.abspath(root)
        self.access_log = os.path.join(self.dir, "access.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        tmp = os.path.join(self.dir, "tmp")
        os.makedirs(tmp)
        conf = os.path.join(self.dir, "nginx.conf")
        temp_paths = "".join(f"  {k}_temp_path {os.path.join(tmp, k)};\n"
                             for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\n"
                    f"error_log {self.dir}/error.log;\n"
                    "events { worker_connections 256; }\n"
                    "http {\n"
                    "  log_format ranges '$request_method $uri \"$http_range\" $status "
                    "$body_bytes_sent';\n"
                    f"  access_log {self.access_log} ranges;\n"
                    f"{temp_paths}"
                    "  server {\n"
                    f"    listen 127.0.0.1:{self.port};\n"
                    f"    root {self.root};\n"
                    "  }\n"
                    "}\n")
        self._spawn(["nginx", "-c", conf, "-p", self.dir])
        return self

    def requests(self):
        """[(method, uri, range header or '-', status, bytes sent)] from the access log."""
        out = []
        if not os.path.exists(self.access_log):
            return out
        for line in open(self.access_log):
            method, uri, rest = line.split(" ", 2)
            rng, tail = rest[1:].split('" ', 1)
            status, sent = tail.split()
            out.append((method, uri, rng, int(status), int(sent)))
        return out


# ---- for the end-to-end suites (test_s3_*.py, test_http.py) --------------------------------

def run(exe, *args, env=None, cwd=None, timeout=120, check=True):
    """`volbatch ARGS` with its own environment and working directory (a job whose output is
    at a URL keeps its job directory under the working directory)."""
    p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, env=env,
                       cwd=None if cwd is None else str(cwd), timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"volbatch {' '.join(map(str, args))} failed ({p.returncode}): "
                             f"{p.stderr}")
    return p


def object_files(client, bucket, prefix=""):
    """{key relative to prefix/: bytes} of every object below bucket/prefix (all of the bucket
    for an empty prefix): the S3 twin of engine_util.dataset_files."""
    root = prefix.rstrip("/") + "/" if prefix else ""
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
        for o in page.get("Contents", []):
            out[o["Key"][len(root):]] = client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def object_keys(client, bucket, prefix=""):
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def wait_for(condition, deadline_s, what, every_s=0.02):
    """Polls condition() until it returns a true value (returned) or deadline_s pass (fails)."""
    end = time.monotonic() + deadline_s
    while True:
        v = condition()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline_s} s")
        time.sleep(every_s)


def files_under(root):
    """Every file path below root (relative), or [] when root does not exist."""
    return sorted(os.path.relpath(os.path.join(d, n), str(root))
                  for d, _, names in os.walk(str(root)) for n in names)
