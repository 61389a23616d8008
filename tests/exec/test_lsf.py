"""The lsf executor writes JOBDIR/lsf/submit.bsub, an LSF job array whose element I runs
`volbatch work JOBDIR --worker $((LSB_JOBINDEX - 1)) --of N`, and submits it with bsub.

IBM Spectrum LSF is not on this machine (it is not free software and not in Debian), so nothing
here ran under a real LSF: the script's #BSUB lines are checked as text, a stand-in `bsub`
on PATH proves the submission and the recorded job id, and the script itself is run with bash
for LSB_JOBINDEX = 1..N at once, as LSF's array elements would run it, and must write exactly
what a local run writes."""
import json
import os
import stat
import subprocess

import pytest

import engine_util as eu
import exec_util as xu

SHAPE = (32, 64, 64)
CHUNKS = (16, 16, 16)
GAUSS = {"type": "gaussian", "sigma": [1.5, 1.5, 1.5]}
WORKERS = 3


@pytest.fixture(scope="module")
def data(volbatch, tmp_path_factory):
    return xu.reference_data(volbatch, tmp_path_factory.mktemp("lsf"), 6, {"ref": GAUSS},
                             SHAPE, CHUNKS)


def lsf_job(data, name, lsf_table=""):
    d = data["dir"]
    out = d / f"{name}.zarr/o"
    path = eu.write_job(d / f"{name}.toml", data["raw"], out, GAUSS, "float32", CHUNKS,
                        tiling={"block": list(CHUNKS)})
    with open(path, "a") as f:
        f.write(lsf_table)
    return path, out, eu.jobdir_of(out)


def run(volbatch, *args, path):
    """volbatch with PATH set (so that bsub is there or not, as the test wants)."""
    return subprocess.run([volbatch.exe, *map(str, args)], env={**os.environ, "PATH": path},
                          capture_output=True, text=True, timeout=120)


def no_bsub_path(tmp_path):
    """A PATH without bsub (volbatch itself needs none)."""
    d = tmp_path / "nobin"
    d.mkdir(exist_ok=True)
    return str(d)


def test_script_lines_and_its_elements_write_what_a_local_run_writes(volbatch, data, tmp_path):
    job, out, jobdir = lsf_job(data, "arr", '[run.lsf]\nproject = "em"\narray_limit = 2\n'
                                            'extra = ["-app volbatch"]\n')
    p = run(volbatch, "run", job, "--executor", "lsf", "--workers", WORKERS, "--threads", 1,
            "--queue", "normal", "--time", "01:29:30", "--memory", "3GiB", "--gpus", 1,
            "--quiet", path=no_bsub_path(tmp_path))
    assert p.returncode == 0, p.stderr
    script = os.path.join(jobdir, "lsf", "submit.bsub")
    assert f"no bsub on this machine: submit with `bsub < {script}`" in p.stdout, p.stdout
    assert stat.S_IMODE(os.stat(script).st_mode) == 0o755
    assert os.path.isdir(os.path.join(jobdir, "logs"))  # where -o puts each element's output
    lines = open(script).read().splitlines()
    assert lines[0] == "#!/bin/bash"
    assert [l for l in lines if l.startswith("#BSUB")] == [
        f"#BSUB -J volbatch-arr-o[1-{WORKERS}]%2",
        f"#BSUB -o {jobdir}/logs/lsf-%J_%I.out",
        "#BSUB -n 1",
        '#BSUB -R "span[hosts=1]"',
        "#BSUB -q normal",
        "#BSUB -W 1:30",
        "#BSUB -M 3072MB",
        '#BSUB -R "rusage[mem=3072MB]"',
        '#BSUB -gpu "num=1"',
        "#BSUB -P em",
        "#BSUB -app volbatch",
    ]
    commands = [l for l in lines if l and not l.startswith("#")]
    assert commands[-1] == (f"exec {volbatch.exe} work {jobdir} --worker $((LSB_JOBINDEX - 1)) "
                            f"--of {WORKERS} --lease 60.000000 --quiet --threads 1")
    # Every #BSUB line comes before the first command: LSF stops reading them there.
    assert max(i for i, l in enumerate(lines) if l.startswith("#BSUB")) < \
        lines.index(commands[0])

    # Outside an array element the script refuses instead of running worker -1.
    env = {k: v for k, v in os.environ.items() if k != "LSB_JOBINDEX"}
    p = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "not an LSF array element" in p.stderr, p.stderr

    # The elements, as LSF would start them: LSB_JOBINDEX = 1..N, all at once.
    procs = [subprocess.Popen(["bash", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "LSB_JOBINDEX": str(i),
                                              "LSB_JOBID": "42"})
             for i in range(1, WORKERS + 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    eu.assert_same_files(eu.dataset_files(out), data["refs"]["ref"], "lsf elements")
    st = volbatch.status(jobdir)
    assert st["blocks_remaining"] == 0 and st["ledgers"] == WORKERS


def test_submits_with_bsub_and_records_the_job_id(volbatch, data, tmp_path):
    job, _, jobdir = lsf_job(data, "sub")
    # A stand-in bsub: saves what it reads on stdin and answers as LSF's bsub does.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stdin_copy = tmp_path / "bsub.stdin"
    args_copy = tmp_path / "bsub.args"
    bsub = bin_dir / "bsub"
    bsub.write_text(f'#!/bin/sh\necho "$#" > {args_copy}\ncat > {stdin_copy}\n'
                    'echo "Job <42> is submitted to queue <normal>."\n')
    bsub.chmod(0o755)
    p = run(volbatch, "run", job, "--executor", "lsf", "--workers", WORKERS, "--quiet",
            path=f"{bin_dir}:/usr/bin:/bin")
    assert p.returncode == 0, p.stderr
    script = os.path.join(jobdir, "lsf", "submit.bsub")
    assert "submitted LSF job 42" in p.stdout, p.stdout
    assert args_copy.read_text().strip() == "0"  # `bsub < FILE`: no arguments, all on stdin
    assert stdin_copy.read_text() == open(script).read()
    jobs = json.load(open(os.path.join(jobdir, "lsf", "jobs.json")))
    assert [j["job"] for j in jobs] == ["42"]
    assert jobs[0]["script"] == script and jobs[0]["workers"] == WORKERS
    st = volbatch.status(jobdir)
    assert "job 42 submitted" in st["engines"]["lsf"]["summary"], st["engines"]

    # A bsub that refuses: one line with its message, and no id recorded.
    bsub.write_text('#!/bin/sh\ncat > /dev/null\necho "Bad resource requirement syntax. '
                    'Job not submitted." >&2\nexit 255\n')
    p = run(volbatch, "run", job, "--executor", "lsf", "--workers", WORKERS, "--quiet",
            path=f"{bin_dir}:/usr/bin:/bin")
    line = one_line_error(p)
    assert "bsub: exit 255: Bad resource requirement syntax" in line, line
    assert len(json.load(open(os.path.join(jobdir, "lsf", "jobs.json")))) == 1


def one_line_error(p):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_an_unknown_key_or_a_bad_time_is_one_line_naming_it(volbatch, data, tmp_path):
    job, _, jobdir = lsf_job(data, "typo", '[run.lsf]\nqueu = "normal"\n')
    line = one_line_error(run(volbatch, "run", job, "--executor", "lsf", "--workers", 2,
                              path=no_bsub_path(tmp_path)))
    assert "[run.lsf] queu: unknown key" in line, line
    assert not os.path.exists(jobdir)  # nothing written for a bad table

    job, _, jobdir = lsf_job(data, "time")
    line = one_line_error(run(volbatch, "run", job, "--executor", "lsf", "--workers", 2,
                              "--time", "90", path=no_bsub_path(tmp_path)))
    assert '[run.lsf] time: "90" is not HH:MM or HH:MM:SS' in line, line
    line = one_line_error(run(volbatch, "run", job, "--executor", "lsf", "--workers", 2,
                              "--time", "1:75", path=no_bsub_path(tmp_path)))
    assert "[run.lsf] time" in line and "minutes must be below 60" in line, line
    assert not os.path.exists(jobdir)
