"""Runs whose process died: marked failed and their pool slots freed, before the CLI starts a run.

A run executed in-process (``python -m bmrs_assets run``/``demo``) that is killed (SIGKILL, OOM
killer, a power cut) ends with nobody to record it: its status stays STARTED and the ``elexon_api``
slot its step claimed stays claimed in the instance, so with a pool limit of 1 every later run
waits for ever on "Step blocked by limit". Without a daemon nothing else frees it (Dagster's run
monitoring frees slots only of runs already *finished*, and only in the daemon).

So every CLI run carries :data:`WORKER_TAG` (host, PID and start time of its process,
``core/liveness.py``), and :func:`reap_dead_runs`, called before each CLI run starts, finds the
unfinished runs of the instance whose worker is provably dead on this host, reports each failed
with a message naming the worker, and frees its slots. A run whose worker is alive, runs on another
host or carries no tag (launched by the daemon: its code server and run monitoring handle it) is
never touched.
"""

from __future__ import annotations

import logging

import dagster as dg

from bmrs_assets.core.liveness import Worker

WORKER_TAG = "bmrs/worker"
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
              dg.DagsterRunStatus.CANCELING]
log = logging.getLogger("bmrs_assets.reaping")


def worker_tags() -> dict[str, str]:
    """The tag that names this process as the run's worker."""
    return {WORKER_TAG: str(Worker.current())}


def dead_worker(run: dg.DagsterRun) -> Worker | None:
    """The run's worker if the tag names one that is dead on this host, else None."""
    worker = Worker.parse(run.tags.get(WORKER_TAG, ""))
    if worker is None or worker.alive() is not False:
        return None
    return worker


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every unfinished run of ``instance`` whose worker died, free its pool slots; their ids."""
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):  # few: the ones in progress
        worker = dead_worker(run)
        if worker is None:
            continue
        message = (f"Run worker process {worker.pid} on {worker.host} is gone (killed, or it died) and left the "
                   f"run {run.status.value}; marked failed and its pool slots freed before the next run started.")
        instance.report_run_failed(run, message)
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning("reaped run %s: its process %s on %s is gone; marked failed, pool slots freed",
                    run.run_id, worker.pid, worker.host)
        reaped.append(run.run_id)
    return reaped
