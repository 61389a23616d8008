"""The k8s executor writes a Kubernetes Indexed Job (JOBDIR/k8s/job.yaml) whose pods run
`volbatch work JOBDIR --worker $(JOB_COMPLETION_INDEX) --of N`.

No API server can run on this machine, so the manifest is NOT applied to a cluster here.
Instead: it is loaded into the official Python client's typed models (python3-kubernetes) and
every field is checked there; the fields the client is too old to know are checked on the
parsed YAML; and the pods are "run" locally: for every index the container's command and args,
expanded as the kubelet expands $(VAR), run concurrently and must write exactly what a local
run writes."""
import json
import os
import re
import subprocess

import pytest
import yaml
from kubernetes import client

import engine_util as eu
import exec_util as xu

SHAPE = (32, 64, 64)
CHUNKS = (16, 16, 16)
GAUSS = {"type": "gaussian", "sigma": [1.5, 1.5, 1.5]}
WORKERS = 3
# Kubernetes 1.28 fields the Job controller reads; python3-kubernetes 22.6 (Kubernetes 1.22
# models) may not have them, and its deserializer silently drops unknown fields.
NEWER_JOB_SPEC_FIELDS = ("backoffLimitPerIndex", "podReplacementPolicy", "podFailurePolicy")


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    return xu.reference_data(volbatch, tmp_path_factory.mktemp("k8s"), 5, {"ref": GAUSS},
                             SHAPE, CHUNKS)


def k8s_job(data, volbatch, name, k8s_table):
    """A job file whose output is NAME.zarr/o, with TOML text `k8s_table` appended."""
    d = data["dir"]
    out = d / f"{name}.zarr/o"
    path = eu.write_job(d / f"{name}.toml", data["raw"], out, GAUSS, "float32", CHUNKS,
                        tiling={"block": list(CHUNKS)})
    with open(path, "a") as f:
        f.write(k8s_table)
    return path, out, eu.jobdir_of(out)


def runnable_table(volbatch, d):
    # The "image" holds volbatch at the path of the binary under test, and the data volume is
    # the test's directory at the same path (as a hostPath or an NFS-backed claim would be).
    return (f"[run.k8s]\nvolbatch = {json.dumps(volbatch.exe)}\n"
            f"[run.k8s.volume]\nhost_path = {json.dumps(str(d))}\n")


def load_manifest(jobdir):
    with open(os.path.join(jobdir, "k8s", "job.yaml")) as f:
        return yaml.safe_load(f)


class _Response:
    """What ApiClient.deserialize reads: an HTTP response's body in .data."""

    def __init__(self, obj):
        self.data = json.dumps(obj)


def typed_job(manifest):
    return client.ApiClient().deserialize(_Response(manifest), "V1Job")


def dropped_fields(raw, back, path=""):
    """Paths present in `raw` but missing or different after the typed model's round trip."""
    out = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            p = f"{path}.{k}" if path else k
            if not isinstance(back, dict) or k not in back:
                out.append(p)
            else:
                out += dropped_fields(v, back[k], p)
    elif isinstance(raw, list):
        if not isinstance(back, list) or len(back) != len(raw):
            return [path]
        for i, (a, b) in enumerate(zip(raw, back)):
            out += dropped_fields(a, b, f"{path}[{i}]")
    elif raw != back:
        out.append(path)
    return out


def kubelet_expand(word, env):
    """$(VAR) -> env[VAR] when defined, $$ -> $, anything else as it is (Kubernetes'
    third_party/forked/golang/expansion)."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, word)


def test_manifest_loads_into_the_typed_models_and_pods_write_what_a_local_run_writes(
        volbatch, data, tmp_path):
    d = data["dir"]
    job, out, jobdir = k8s_job(data, volbatch, "pods", runnable_table(volbatch, d))
    p = volbatch("run", job, "--executor", "k8s", "--workers", WORKERS, "--image",
                 "registry.example/volbatch:1.0", "--memory", "3GiB", "--threads", 1, "--quiet")
    file = os.path.join(jobdir, "k8s", "job.yaml")
    assert f"kubectl apply -f {file}" in p.stdout, p.stdout
    assert f"volbatch status {jobdir}" in p.stdout, p.stdout

    raw = load_manifest(jobdir)
    j = typed_job(raw)
    assert isinstance(j, client.V1Job)
    assert (j.api_version, j.kind) == ("batch/v1", "Job")
    assert j.metadata.name == "volbatch-pods-o"
    assert j.spec.completion_mode == "Indexed"
    assert j.spec.completions == WORKERS and j.spec.parallelism == WORKERS
    pod = j.spec.template.spec
    assert pod.restart_policy == "Never"
    assert pod.termination_grace_period_seconds == 120
    (c,) = pod.containers
    assert c.image == "registry.example/volbatch:1.0"
    assert c.command == [volbatch.exe]
    assert c.args == ["work", jobdir, "--worker", "$(JOB_COMPLETION_INDEX)", "--of", str(WORKERS),
                      "--lease", "60.000000", "--quiet", "--threads", "1"]
    (env,) = c.env
    assert env.name == "JOB_COMPLETION_INDEX"
    assert env.value_from.field_ref.field_path == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    for r in (c.resources.requests, c.resources.limits):
        assert r == {"cpu": "1", "memory": "3Gi"}
    (mount,) = c.volume_mounts
    (volume,) = pod.volumes
    assert mount.name == volume.name and mount.mount_path == str(d)
    assert volume.host_path.path == str(d) and volume.persistent_volume_claim is None

    # Everything the manifest says survives the typed models' round trip, except the fields
    # this client version does not know; those are checked on the parsed YAML.
    back = client.ApiClient().sanitize_for_serialization(j)
    known = set(client.V1JobSpec.attribute_map.values())
    unknown = {f"spec.{f}" for f in NEWER_JOB_SPEC_FIELDS if f not in known}
    assert set(dropped_fields(raw, back)) == unknown
    assert raw["spec"]["backoffLimitPerIndex"] == 3  # min(--restarts 10, 3)
    assert raw["spec"]["podReplacementPolicy"] == "Failed"
    assert raw["spec"]["podFailurePolicy"] == {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}

    # The pods, as the Job controller and the kubelet would start them: one per index, at once.
    procs = []
    for i in range(WORKERS):
        env = {"JOB_COMPLETION_INDEX": str(i)}
        argv = [kubelet_expand(w, env) for w in c.command + c.args]
        assert argv[argv.index("--worker") + 1] == str(i)
        procs.append(subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    for proc in procs:
        o, e = proc.communicate(timeout=120)
        assert proc.returncode == 0, e
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["ref"], "k8s pods")
    st = volbatch.status(jobdir)
    assert st["blocks_remaining"] == 0 and st["ledgers"] == WORKERS
    assert "k8s" in st["engines"] and file in st["engines"]["k8s"]["summary"]


def test_every_table_key_reaches_the_manifest(volbatch, data):
    table = ('[run.k8s]\nnamespace = "em"\nname = "seg-1"\nparallelism = 2\n'
             'backoff_limit_per_index = 5\nnode_selector = { pool = "gpu" }\n'
             'service_account = "vb"\ngrace_s = 300\n'
             '[run.k8s.volume]\nclaim = "em-data"\n'
             f'mount = {json.dumps(str(data["dir"]))}\n')
    job, _, jobdir = k8s_job(data, volbatch, "keys", table)
    volbatch("run", job, "--executor", "k8s", "--workers", 4, "--image", "img:2", "--gpus", 1,
             "--threads", 2, "--quiet")
    raw = load_manifest(jobdir)
    j = typed_job(raw)
    assert (j.metadata.name, j.metadata.namespace) == ("seg-1", "em")
    assert j.spec.parallelism == 2 and j.spec.completions == 4
    pod = j.spec.template.spec
    assert pod.node_selector == {"pool": "gpu"}
    assert pod.service_account_name == "vb"
    assert pod.termination_grace_period_seconds == 300
    assert pod.volumes[0].persistent_volume_claim.claim_name == "em-data"
    assert pod.volumes[0].host_path is None
    c = pod.containers[0]
    assert c.command == ["volbatch"]
    assert c.resources.limits == {"cpu": "2", "nvidia.com/gpu": "1"}
    assert raw["spec"]["backoffLimitPerIndex"] == 5


def one_line_error(p):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_a_missing_image_or_an_unknown_key_is_one_line_naming_it(volbatch, data):
    job, _, jobdir = k8s_job(data, volbatch, "noimage", runnable_table(volbatch, data["dir"]))
    line = one_line_error(volbatch("run", job, "--executor", "k8s", "--workers", 2, check=False))
    assert "[run.k8s] image: missing" in line and "--image" in line, line
    assert not os.path.exists(jobdir)  # nothing written for a bad table

    job, _, jobdir = k8s_job(data, volbatch, "typo",
                             runnable_table(volbatch, data["dir"]) + "colour = \"blue\"\n")
    # (colour lands in [run.k8s.volume], the table open at the end of the file)
    line = one_line_error(volbatch("run", job, "--executor", "k8s", "--workers", 2, "--image",
                                   "x", check=False))
    assert "[run.k8s.volume] colour: unknown key" in line, line

    job, _, _ = k8s_job(data, volbatch, "typo2",
                        "[run.k8s]\nimagepull = \"Always\"\n[run.k8s.volume]\nclaim = \"c\"\n")
    line = one_line_error(volbatch("run", job, "--executor", "k8s", "--workers", 2, "--image",
                                   "x", check=False))
    assert "[run.k8s] imagepull: unknown key" in line, line


def test_apply_needs_kubectl_and_runs_it(volbatch, data, tmp_path):
    job, _, jobdir = k8s_job(data, volbatch, "apply", runnable_table(volbatch, data["dir"]))
    file = os.path.join(jobdir, "k8s", "job.yaml")
    empty = tmp_path / "nobin"
    empty.mkdir()
    args = [volbatch.exe, "run", job, "--executor", "k8s", "--workers", 2, "--image", "x",
            "--apply", "--quiet"]
    args = list(map(str, args))
    p = subprocess.run(args, env={**os.environ, "PATH": str(empty)}, capture_output=True,
                       text=True, timeout=60)
    line = one_line_error(p)
    assert "--apply: kubectl is not on PATH" in line and f"kubectl apply -f {file}" in line, line
    assert os.path.exists(file)  # written all the same, for applying elsewhere

    # A stand-in kubectl proves what is run; a real cluster is not here.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "kubectl.args"
    fake = bin_dir / "kubectl"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n'
                    'echo "job.batch/volbatch-apply-o created"\n')
    fake.chmod(0o755)
    p = subprocess.run(args, env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert log.read_text().split("\n")[:3] == ["apply", "-f", file]
    assert "job.batch/volbatch-apply-o created" in p.stdout, p.stdout

    fake.write_text('#!/bin/sh\necho "The Job \\"x\\" is invalid: spec.template: field is '
                    'immutable" >&2\nexit 1\n')
    p = subprocess.run(args, env={**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=60)
    line = one_line_error(p)
    assert "kubectl: exit 1" in line and "immutable" in line, line
    assert "kubectl delete job volbatch-apply-o" in line, line


def test_metrics_port_gives_the_pods_scrape_annotations_and_a_container_port(volbatch, data):
    job, _, jobdir = k8s_job(data, volbatch, "scraped", "[run]\nmetrics_port = 9188\n" +
                               runnable_table(volbatch, data["dir"]))
    volbatch("run", job, "--executor", "k8s", "--workers", WORKERS, "--image", "img:1", "--quiet")
    raw = load_manifest(jobdir)
    j = typed_job(raw)
    assert j.spec.template.metadata.annotations == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "9188",
        "prometheus.io/path": "/metrics"}
    (c,) = j.spec.template.spec.containers
    (port,) = c.ports
    assert isinstance(port, client.V1ContainerPort)
    assert (port.name, port.container_port, port.protocol) == ("metrics", 9188, "TCP")
    # Every pod on the annotated port itself (each pod has its own address), on all interfaces.
    args = c.args
    assert args[args.index("--metrics-port") + 1] == "9188"
    assert "--metrics-fixed-port" in args
    assert args[args.index("--metrics-address") + 1] == "0.0.0.0"
    back = client.ApiClient().sanitize_for_serialization(j)
    assert back["spec"]["template"]["metadata"] == raw["spec"]["template"]["metadata"]

    # The command line's port wins over the job file's; without one, no annotations.
    volbatch("run", job, "--executor", "k8s", "--workers", WORKERS, "--image", "img:1",
             "--metrics-port", 9200, "--quiet")
    assert load_manifest(jobdir)["spec"]["template"]["metadata"]["annotations"][
        "prometheus.io/port"] == "9200"
    plain, _, plain_dir = k8s_job(data, volbatch, "unscraped",
                                  runnable_table(volbatch, data["dir"]))
    volbatch("run", plain, "--executor", "k8s", "--workers", WORKERS, "--image", "img:1", "--quiet")
    t = typed_job(load_manifest(plain_dir)).spec.template
    assert t.metadata.annotations is None and t.spec.containers[0].ports is None


def test_metrics_port_0_is_refused_on_kubernetes_naming_the_field(volbatch, data):
    job, _, _ = k8s_job(data, volbatch, "anyport",
                        "[run]\nmetrics_port = 0\n" + runnable_table(volbatch, data["dir"]))
    line = one_line_error(volbatch("run", job, "--executor", "k8s", "--workers", 2, "--image",
                                   "img:1", check=False))
    assert "[run] metrics_port: 0" in line and "annotation" in line and "9100" in line, line
