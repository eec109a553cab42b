"""The ``bmrs_run_failures`` sensor: finished runs in, :mod:`bmrs_assets.monitoring.run_failures` decides.

A plain sensor rather than ``dg.run_failure_sensor``: a run-status sensor owns its cursor (Dagster
keeps its own position there), and this one must keep what it reported, like ``bmrs_alerts``, so
that a later success can be matched to the failure and nothing is said twice. It reads the runs
of every job of this code location (datasets, revenue, dashboard, IRIS merge runs) that reached
FAILURE or SUCCESS since the cursor; runs of other code locations are left alone (the
``monitor_all_code_locations=False`` rule of Dagster's run-status sensors).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from bmrs_assets.core.settlement import UTC
from bmrs_assets.monitoring.alerts import WEBHOOK_ENV, lookback_days
from bmrs_assets.monitoring.run_failures import (
    SOURCE_TAG,
    RunFacts,
    error_first_line,
    load_cursor,
    partitions_from_tags,
    run_tick,
)
from bmrs_assets.settings import setting

BATCH = 200  # runs read per tick; the rest on the next one
_EVENTS = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE,
           dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_MATERIALIZATION}


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _error(info) -> str:
    while info is not None and info.cls_name in {"DagsterExecutionStepExecutionError",
                                                 "DagsterUserCodeExecutionError"} and info.cause is not None:
        info = info.cause
    return error_first_line(info.cls_name, info.message) if info is not None else ""


def run_facts(instance: dg.DagsterInstance, record) -> RunFacts:
    """The facts of one finished run: its failed assets (or materialized ones), steps and error."""
    run = record.dagster_run
    planned: list[str] = []
    done: set[str] = set()
    steps: list[str] = []
    errors: list[str] = []
    run_error = ""
    for entry in instance.all_logs(run.run_id, of_type=_EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED and event.asset_key is not None:
            if _key(event.asset_key) not in planned:
                planned.append(_key(event.asset_key))
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION and event.asset_key is not None:
            done.add(_key(event.asset_key))
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            steps.append(event.step_key or "?")
            errors.append(_error(event.step_failure_data.error))
        elif kind == dg.DagsterEventType.RUN_FAILURE:
            data = event.event_specific_data
            run_error = _error(getattr(data, "error", None)) or (entry.message or "").splitlines()[0]
    if not planned and run.asset_selection:
        planned = sorted(_key(k) for k in run.asset_selection)
    failed = run.status == dg.DagsterRunStatus.FAILURE
    if failed:
        # the assets of the failed steps (step key "bmrs__costs" is asset bmrs/costs); else all not materialized
        by_step = [a for a in planned if a.replace("/", "__") in steps]
        assets = tuple(by_step or [a for a in planned if a not in done] or planned)
    else:
        assets = tuple(planned)
    return RunFacts(run.run_id, run.job_name, "FAILURE" if failed else "SUCCESS",
                    record.update_timestamp.timestamp(), assets, partitions_from_tags(dict(run.tags)),
                    tuple(steps), errors[0] if errors else run_error, run.tags.get(SOURCE_TAG))


def _ours(run: dg.DagsterRun, context: dg.SensorEvaluationContext) -> bool:
    """Whether ``run`` belongs to this code location (by its origin when launched, else by its job)."""
    origin = run.remote_job_origin
    here = context.code_location_origin
    if origin is not None and here is not None:
        return origin.location_name == here.location_name
    repo = context.repository_def
    return repo is None or run.job_name in repo.job_names


def finished_runs(context: dg.SensorEvaluationContext, after: float | None,
                  now: datetime) -> list[RunFacts]:
    """Runs of this code location that failed or succeeded after ``after`` (else the lookback), oldest first."""
    since = (datetime.fromtimestamp(after, UTC) if after is not None
             else now - timedelta(days=lookback_days()))
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS],
                              updated_after=since),
        limit=BATCH, order_by="update_timestamp", ascending=True)
    return [run_facts(context.instance, r) for r in records
            if (after is None or r.update_timestamp.timestamp() > after) and _ours(r.dagster_run, context)]


def build_run_failure_sensor() -> dg.SensorDefinition:
    """The ``bmrs_run_failures`` sensor; on by default, like ``bmrs_alerts``."""

    @dg.sensor(name="bmrs_run_failures", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Posts one Slack-compatible message per failed run (assets, partitions, step, error) "
                           f"to {WEBHOOK_ENV} (logs only without it), and one when a later run resolves it.")
    def bmrs_run_failures(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        url = setting(WEBHOOK_ENV)
        runs = finished_runs(context, load_cursor(context.cursor).after, datetime.now(UTC))

        def log(level: str, text: str) -> None:
            getattr(context.log, level)(text)

        result = run_tick(context.cursor, runs, log, url)
        return dg.SensorResult(skip_reason=result.summary, cursor=result.cursor)

    return bmrs_run_failures
