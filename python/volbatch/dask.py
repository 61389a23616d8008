"""Running a volbatch job on a Dask cluster: the job is prepared here, then N tasks
`volbatch.work(jobdir, i, N)` go to the `distributed.Client`. The job directory (on a filesystem
every Dask worker sees) is all the tasks share, so the output is bit-identical to `volbatch run`,
a task that dies is simply run again (Dask reschedules tasks of a dead worker; `retries` covers
tasks that raise), and `volbatch status JOBDIR` follows the run from anywhere.

    import distributed, volbatch.dask
    client = distributed.Client(...)
    status = volbatch.dask.run("job.toml", client)
"""
import uuid

import volbatch


def _work(jobdir, worker, of, threads, lease):
    # A module-level function, so Dask pickles it by reference (volbatch.dask._work).
    return volbatch.work(jobdir, worker, of, threads=threads, lease=lease)


def run(job, client, workers=None, threads_per_worker=None, lease=60.0, resume=False,
        force=False, retries=2, check=True):
    """Runs `job` (a TOML path, TOML text or a dict of tables) as `workers` tasks on `client`
    (default: one per Dask worker), each a volbatch worker using `threads_per_worker` threads
    (default: volbatch's, every core). Returns volbatch.status(jobdir) with "workers": the
    tasks' summaries. With check (default), blocks left undone raise volbatch.JobFailed; running
    it again resumes the job."""
    jobdir = volbatch.prepare(job, resume=resume, force=force)
    addresses = sorted(client.scheduler_info()["workers"])
    n = int(workers or len(addresses) or 1)
    token = uuid.uuid4().hex[:8]
    futures = []
    for i in range(n):
        # Spread the tasks over the workers (any worker may take one if its own is gone).
        where = [addresses[i % len(addresses)]] if addresses else None
        futures.append(client.submit(_work, jobdir, i, n, int(threads_per_worker or 0),
                                     float(lease), pure=False, retries=retries, workers=where,
                                     allow_other_workers=True,
                                     key=f"volbatch-work-{token}-{i}-of-{n}"))
    summaries = client.gather(futures)
    # Every task has returned: what killed workers left behind (claims, temporaries) goes.
    volbatch.cleanup(jobdir)
    status = volbatch.status(jobdir)
    status["workers"] = summaries
    if check and status["blocks_remaining"] > 0:
        failed = sum(s.get("blocks_failed", 0) for s in summaries)
        raise volbatch._jobs._job_failed(
            status, f"{status['blocks_remaining']} blocks not done ({failed} failed)")
    return status
