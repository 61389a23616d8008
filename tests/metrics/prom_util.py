"""A private Prometheus for the tests, its HTTP query API, and waiting with deadlines."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

SCRAPE_INTERVAL = "250ms"


def wait_for(what, condition, timeout_s=60, every_s=0.1):
    """Polls `condition` until it returns something true (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def free_ports(n, avoid=()):
    """A base port B with B..B+n-1 all free now on 127.0.0.1 (workers bind B + I), below the
    kernel's ephemeral range (32768 and up), where Prometheus's own port and the connections'
    ports come from."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - n)
        if any(p in avoid for p in range(base, base + n)):
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Prometheus:
    """`prometheus` on 127.0.0.1:PORT with `scrape_configs` (a list of dicts, written as JSON,
    which is YAML) and its TSDB under `d`."""

    def __init__(self, d, scrape_configs):
        exe = shutil.which("prometheus")
        if not exe:
            raise RuntimeError("prometheus is not installed (scripts/setup.sh installs it)")
        with socket.socket() as s:  # a free port from the kernel's ephemeral range
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                             "evaluation_interval": "1s"},
                  "scrape_configs": scrape_configs}
        self.config = os.path.join(d, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump(config, f, indent=1)
        self.log = open(os.path.join(d, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={self.config}", f"--storage.tsdb.path={d}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("prometheus to be ready", self._ready, timeout_s=30)

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited ({self.proc.returncode}); see {self.log.name}")
        try:
            return http_get(self.url + "/-/ready", timeout=1) is not None
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            r = json.loads(http_get(url))
        except urllib.error.HTTPError as e:  # Prometheus says why in the body
            raise AssertionError(f"{path} {params}: {e.read().decode()}") from None
        assert r["status"] == "success", r
        return r["data"]

    def query(self, expr, at=None):
        """An instant query: [(labels, value)]."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return [(r["metric"], float(r["value"][1])) for r in self.api("query", **params)["result"]]

    def query_range(self, expr, start, end, step="1"):
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=step)["result"]

    def targets(self):
        return self.api("targets")["activeTargets"]

    def scalar(self, expr, at=None):
        r = self.query(expr, at)
        assert len(r) == 1, (expr, r)
        return r[0][1]
