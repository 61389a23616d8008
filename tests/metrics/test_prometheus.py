"""Issue 21: every worker's /metrics endpoint, scraped by a real Prometheus while a job runs
under the processes executor with 4 workers; the job's own view (`volbatch status
--prometheus`, served as a textfile collector would); every PromQL expression of
monitoring/volbatch-dashboard.json evaluated through the same Prometheus; the exposition
checked by `promtool check metrics`; and the bad inputs (a port in use, a malformed port).

Grafana itself is not in Debian, so the dashboard is not rendered here: its queries are."""
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import engine_util as eu
import prom_util as pu

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WORKERS = 4
TOTAL = 256  # blocks of the (128, 256, 256) volume in 32^3
CHUNKS = (32, 32, 32)
# Slow enough per block that 4 workers on 2 cores take several seconds (many scrapes).
SLOW = {"type": "gaussian", "sigma": [6.0, 6.0, 6.0]}
FAST = {"type": "gaussian", "sigma": [1.0, 1.0, 1.0]}


class StatusServer:
    """What node_exporter's textfile collector (or a cron job writing its file) gives
    Prometheus: `volbatch status JOBDIR --prometheus`, served fresh at each scrape."""

    def __init__(self, volbatch, jobdir):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                p = subprocess.run([volbatch.exe, "status", jobdir, "--prometheus"],
                                   capture_output=True, text=True)
                outer.last = p.stdout
                body = p.stdout.encode() if p.returncode == 0 else b""
                self.send_response(200 if p.returncode == 0 else 500)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.last = ""
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def env(volbatch, tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics")
    raw = eu.write_zarr2(eu.em_volume((128, 256, 256), seed=3), d / "in.zarr/raw", CHUNKS)
    small = eu.write_zarr2(eu.em_volume((64, 64, 64), seed=4), d / "small.zarr/raw", CHUNKS)
    base_a = pu.free_ports(WORKERS)
    base_b = pu.free_ports(WORKERS, avoid=range(base_a, base_a + WORKERS))
    jobdir_a = eu.jobdir_of(d / "a.zarr/watched")
    status = StatusServer(volbatch, jobdir_a)
    prom = pu.Prometheus(str(d), [
        {"job_name": "volbatch", "static_configs": [{"targets": [
            f"127.0.0.1:{b + i}" for b in (base_a, base_b) for i in range(WORKERS)]}]},
        {"job_name": "volbatch-sd", "file_sd_configs": [{
            "files": [str(d / "sd.zarr/found.volbatch/metrics/*.json")],
            "refresh_interval": "1s"}]},
        {"job_name": "volbatch-status",
         "static_configs": [{"targets": [f"127.0.0.1:{status.port}"]}]},
    ])
    # Prometheus applies discovered targets every few seconds: wait until every static target
    # has a scrape loop (up is 0 while its worker does not run yet).
    pu.wait_for("Prometheus's scrape loops", lambda: prom.query(
        'count(up{job=~"volbatch|volbatch-status"})') == [({}, 2.0 * WORKERS + 1)], timeout_s=30)
    try:
        yield {"d": d, "raw": raw, "small": small, "base_a": base_a, "base_b": base_b,
               "prom": prom, "status": status}
    finally:
        prom.stop()
        status.stop()


def write(env, name, out, op=SLOW, raw=None, run=None):
    return eu.write_job(env["d"] / f"{name}.toml", raw or env["raw"], env["d"] / out, op,
                        "float32", CHUNKS, tiling={"block": list(CHUNKS)}, run=run)


def promtool_check(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    assert p.returncode == 0, (p.stdout, p.stderr, text)


def targets_of(jobdir):
    """worker -> the address record's (target, pid)."""
    out = {}
    mdir = os.path.join(jobdir, "metrics")
    for name in os.listdir(mdir) if os.path.isdir(mdir) else []:
        with open(os.path.join(mdir, name)) as f:
            (g,) = json.load(f)
        out[int(g["labels"]["__meta_volbatch_worker"])] = (
            g["targets"][0], int(g["labels"]["__meta_volbatch_pid"]))
    return out


def raw_increase(samples):
    """What increase() counts before extrapolation: every rise, and after a reset the new
    value."""
    total, prev = 0.0, None
    for _, v in samples:
        v = float(v)
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


@pytest.fixture(scope="module")
def watched(volbatch, env):
    """Job A, run to the end by 4 worker processes with metrics on; Prometheus scrapes them
    (static targets) and the job's own view (StatusServer)."""
    job = write(env, "watched", "a.zarr/watched")
    jobdir = eu.jobdir_of(env["d"] / "a.zarr/watched")
    start = time.time()
    proc = subprocess.Popen(
        [volbatch.exe, "run", job, "--executor", "processes", "--workers", str(WORKERS),
         "--threads", "1", "--metrics-port", str(env["base_a"]), "--metrics-linger", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # While it runs: every worker records its address; one worker's exposition passes
    # promtool; `status` lists the endpoints.
    found = pu.wait_for("4 metrics address records",
                        lambda: len(targets_of(jobdir)) == WORKERS or proc.poll() is not None)
    live = targets_of(jobdir)
    assert sorted(live) == list(range(WORKERS)), (live, proc.poll(), proc.communicate())
    exposition = pu.http_get(f"http://{live[2][0]}/metrics")
    status_text = volbatch("status", jobdir).stdout
    # Frozen until the status route has been scraped with their heartbeats, so a machine fast
    # enough to finish the job between two scrapes still shows them (the lease is minutes).
    frozen = []
    for _, pid in live.values():
        try:
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
        except ProcessLookupError:
            pass
    try:
        if frozen:
            pu.wait_for("the status route's heartbeats", lambda: env["prom"].query(
                'volbatch_job_worker_heartbeat_age_seconds{volbatch_job="watched"}'),
                timeout_s=30)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return {"jobdir": jobdir, "start": start, "end": time.time(), "live": live,
            "exposition": exposition, "status_text": status_text, "stderr": err, "found": found}


def test_exposition_passes_promtool_and_names_the_worker(watched, volbatch):
    promtool_check(watched["exposition"])
    assert 'volbatch_blocks_done_total{volbatch_job="watched",worker="2"}' in watched["exposition"]
    for name in ("volbatch_stage_seconds_total", "volbatch_read_bytes_total",
                 "volbatch_written_voxels_total", "process_resident_memory_bytes",
                 "process_cpu_seconds_total", "process_threads", "volbatch_block_rate",
                 "volbatch_build_info"):
        assert f"# TYPE {name} " in watched["exposition"], name
    # Worker I on PORT + I, on loopback, and `status` lists them.
    for w, (target, _) in watched["live"].items():
        assert target == f"127.0.0.1:{watched_base(watched) + w}"
        assert f"worker {w} at http://{target}/metrics" in watched["status_text"]
    # The job's own view too.
    promtool_check(volbatch("status", watched["jobdir"], "--prometheus").stdout)
    # Records are gone once the workers are.
    assert targets_of(watched["jobdir"]) == {}


def watched_base(watched):
    return min(int(t.split(":")[1]) for t, _ in watched["live"].values())


def test_blocks_done_summed_over_workers_equals_the_ledgers(watched, env):
    prom = env["prom"]
    done, failed, _ = eu.read_ledgers(watched["jobdir"])
    assert len(done) == TOTAL and not failed
    sel = 'volbatch_blocks_done_total{volbatch_job="watched"}'
    # The workers waited (--metrics-linger) for a scrape of their final counts.
    pu.wait_for("Prometheus's sum to reach the ledgers' count",
                lambda: prom.query(f"sum(last_over_time({sel}[10m]))") == [({}, float(TOTAL))],
                timeout_s=30)
    series = prom.query(f"last_over_time({sel}[10m])")
    assert len(series) == WORKERS
    base = watched_base(watched)
    for labels, value in series:
        w = int(labels["worker"])
        assert labels["instance"] == f"127.0.0.1:{base + w}" and labels["job"] == "volbatch"
        assert labels["volbatch_job"] == "watched"
        assert value > 0
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_threads",
                 "volbatch_stage_seconds_total"):
        workers = {r["worker"] for r, _ in
                   prom.query(f'last_over_time({name}{{volbatch_job="watched"}}[10m])')}
        assert workers == {str(i) for i in range(WORKERS)}, name
    (labels, _), = prom.query('last_over_time(volbatch_build_info{volbatch_job="watched",'
                              'worker="0"}[10m])')
    assert labels["version"] == "0.1.0"
    # The job's own view, scraped from `volbatch status --prometheus`.
    pu.wait_for("the status route's blocks done", lambda: prom.query(
        'last_over_time(volbatch_job_blocks_done{volbatch_job="watched"}[10m])') and
        prom.query('last_over_time(volbatch_job_blocks_done{volbatch_job="watched"}[10m])')[0][1]
        == TOTAL, timeout_s=30)
    ages = prom.query_range('volbatch_job_worker_heartbeat_age_seconds{volbatch_job="watched"}',
                            watched["start"], watched["end"], "0.5")
    assert ages, "no worker heartbeat seen through the status route while the job ran"


def test_every_dashboard_expression_returns_data(watched, env):
    prom = env["prom"]
    with open(os.path.join(ROOT, "monitoring", "volbatch-dashboard.json")) as f:
        dash = json.load(f)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    # The job variable's label_values(volbatch_build_info, volbatch_job), through the API.
    assert "watched" in prom.api("label/volbatch_job/values",
                                 **{"match[]": "volbatch_build_info"})
    start, end = watched["start"] - 1, watched["end"] + 2
    exprs = [(p["title"], t["expr"]) for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 15
    for title, expr in exprs:
        assert all(t["datasource"]["uid"] == "${datasource}"
                   for p in dash["panels"] for t in p["targets"])
        q = (expr.replace("$job", "watched").replace("$__rate_interval", "2s")
             .replace("$__range", f"{int(end - start) + 60}s"))
        assert "$" not in q, q
        result = prom.query_range(q, start, end, "0.5")
        values = [float(v) for s in result for _, v in s["values"]]
        assert any(v == v for v in values), f"{title}: {expr} returned no data"


def killed_and_restarted(volbatch, env, name):
    """Worker 1 of a 4-worker run SIGKILLed once Prometheus saw it finish more blocks than the
    job has left (so the restarted process, which can only do what is left, stays below the
    old count at every scrape, however fast it runs), then started again by the pool: (its
    blocks-done selector, the count Prometheus saw before the kill, the samples of the
    selector over the run), or None when worker 1 ended before that point."""
    prom, base = env["prom"], env["base_b"]
    job = write(env, name, f"b.zarr/{name}")
    jobdir = eu.jobdir_of(env["d"] / f"b.zarr/{name}")
    proc = subprocess.Popen(
        [volbatch.exe, "run", job, "--executor", "processes", "--workers", str(WORKERS),
         "--threads", "1", "--metrics-port", str(base), "--metrics-linger", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sel = f'volbatch_blocks_done_total{{volbatch_job="{name}",worker="1"}}'

    recorded = []

    def ahead_of_what_is_left():
        # Worker 1 gone (its address record, once there, removed at its exit) or the run over:
        # too late.
        if 1 in targets_of(jobdir):
            recorded.append(True)
        elif recorded:
            return [None]
        if proc.poll() is not None:
            return [None]
        seen = [v for _, v in prom.query(sel) if v >= 5]
        # Read after the query: the blocks left only shrink, the old process's count only grows.
        left = TOTAL - len(eu.read_ledgers(jobdir)[0])
        return [v for v in seen if v > left]

    def too_late():
        proc.communicate(timeout=300)
        return None

    before = pu.wait_for("Prometheus to see worker 1 finish more blocks than are left",
                         ahead_of_what_is_left, timeout_s=60)[0]
    pid = targets_of(jobdir).get(1, (None, None))[1]
    if before is None or pid is None:
        return too_late()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # worker 1 finished its last blocks in between
        return too_late()
    # The pool starts worker 1 again; it takes its port (PORT + 1) back.
    pu.wait_for("worker 1 to start again",
                lambda: targets_of(jobdir).get(1, (None, pid))[1] != pid or
                proc.poll() is not None, timeout_s=60)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    if "workers restarted: 0" in out:  # the kill reached a worker that had already exited
        return None
    assert "workers restarted: 1" in out, out
    done, _, _ = eu.read_ledgers(jobdir)
    assert len(done) == TOTAL
    starts = f'process_start_time_seconds{{volbatch_job="{name}",worker="1"}}'
    pu.wait_for("Prometheus to scrape the restarted worker 1", lambda: prom.query(
        f"changes({starts}[10m]) >= 1"), timeout_s=30)
    (_, samples), = [(r["metric"], r["values"]) for r in
                     prom.api("query", query=f"{sel}[10m]")["result"]]
    return sel, before, samples


def test_a_killed_and_restarted_worker_resets_its_counter_and_increase_counts_both(
        volbatch, env):
    prom = env["prom"]
    # The reset shows when the new process is scraped below the old one's last count, which
    # the kill's timing guarantees. A run whose worker 1 never got ahead of what was left (it
    # ended first) is tried again (at most 3 runs).
    for attempt in range(3):
        run = killed_and_restarted(volbatch, env, f"restarted{attempt}")
        if run is not None:
            break
    else:
        raise AssertionError("in 3 runs worker 1 never was killed ahead of what was left")
    sel, before, samples = run
    values = [float(v) for _, v in samples]
    assert any(b < a for a, b in zip(values, values[1:])), values
    window = "[10m]"
    assert prom.scalar(f"resets({sel}{window})") >= 1, values
    raw = raw_increase(samples)
    first, last = values[0], values[-1]
    assert raw >= before + last - first, values  # both processes' blocks
    assert raw > last - first, values  # what ignoring the reset would give
    (_, inc), = prom.query(f"increase({sel}{window})")
    assert inc >= raw - 1e-9  # increase() adds the reset back (and extrapolates, never down)


def test_port_0_records_the_bound_address_and_file_sd_finds_it(volbatch, env):
    prom = env["prom"]
    job = write(env, "found", "sd.zarr/found", FAST, env["small"])
    jobdir = eu.jobdir_of(env["d"] / "sd.zarr/found")
    p = volbatch("run", job, "--executor", "processes", "--workers", 2, "--threads", 1,
                 "--metrics-port", 0, "--metrics-linger", 10)
    assert p.returncode == 0
    # Prometheus found the endpoints through JOBDIR/metrics/*.json (file_sd_configs) and got
    # the final counts.
    pu.wait_for("the file_sd job's counts", lambda: prom.query(
        'sum(last_over_time(volbatch_blocks_done_total{job="volbatch-sd"}[10m]))') ==
        [({}, 8.0)], timeout_s=30)


# ---- bad input -------------------------------------------------------------------------------

def test_a_port_in_use_is_one_line_and_the_worker_still_computes(volbatch, env):
    job = write(env, "busy", "busy.zarr/busy", FAST, env["small"])
    jobdir = eu.jobdir_of(env["d"] / "busy.zarr/busy")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = volbatch("run", job, "--executor", "local", "--metrics-port", port, "--quiet")
        assert p.returncode == 0
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, p.stderr
        assert "--metrics-port" in lines[0] and f"127.0.0.1:{port}" in lines[0]
        assert "in use" in lines[0] and "computing without a metrics endpoint" in lines[0]
        assert len(eu.read_ledgers(jobdir)[0]) == 8
        # `volbatch work` on a job whose file asks for the port: the same.
        job2 = write(env, "busy2", "busy2.zarr/busy2", FAST, env["small"],
                     run={"metrics_port": port})
        jobdir2 = volbatch("run", job2, "--prepare").stdout.strip()
        p = volbatch("work", jobdir2, "--worker", 0, "--of", 1)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and "[run] metrics_port" in lines[0], p.stderr
        assert len(eu.read_ledgers(jobdir2)[0]) == 8
    # An address this host does not have: the same.
    p = volbatch("run", job, "--executor", "local", "--force", "--metrics-port", 0,
                 "--metrics-address", "192.0.2.1", "--quiet")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "192.0.2.1" in lines[0], p.stderr


@pytest.mark.parametrize("value, needle", [
    ('"9100"', "[run] metrics_port: must be an integer"),
    ("70000", "[run] metrics_port: 70000 is not a port"),
    ("-1", "[run] metrics_port: -1 is not a port"),
])
def test_a_malformed_metrics_port_is_one_line_naming_the_field(volbatch, env, value, needle):
    job = write(env, "bad", "bad.zarr/bad", FAST, env["small"])
    with open(job, "a") as f:
        f.write(f"[run]\nmetrics_port = {value}\n")
    p = volbatch("run", job, "--quiet", check=False)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], (needle, p.stderr)


def test_a_metrics_port_flag_out_of_range_is_one_line(volbatch, env):
    job = write(env, "badflag", "badflag.zarr/badflag", FAST, env["small"])
    p = volbatch("run", job, "--metrics-port", 70000, "--quiet", check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "--metrics-port: 70000 is not a port" in lines[0], p.stderr
