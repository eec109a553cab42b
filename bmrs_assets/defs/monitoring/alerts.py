"""The ``bmrs_alerts`` sensor: the instance's facts in, :mod:`bmrs_assets.monitoring.alerts` decides.

What counts as a problem, the diff against the cursor, the messages and the webhook are all in the
Dagster-free library module; this one reads the freshness verdicts (:func:`bmrs_assets.defs.quality.freshness`), partition
statuses and ``complete_partition`` evaluations from the ``DagsterInstance`` and runs one tick per evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter  # the light module (event_log.base loads SQLAlchemy)

from bmrs_assets.core.settlement import UTC, london_today, parse_day
from bmrs_assets.defs.elexon.assets import daily_partitions
from bmrs_assets.defs.elexon.automation import heal_lookback
from bmrs_assets.defs.elexon.retries import retry_state
from bmrs_assets.defs.quality import asset_key, classify, freshness, partition_status
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.monitoring.alerts import (
    WEBHOOK_ENV,
    Evaluation,
    Problem,
    Reported,
    failed_check_problem,
    find_problems,
    load_cursor,
    lookback_days,
    run_tick,
)
from bmrs_assets.settings import setting, start_date
from bmrs_assets.warehouse.contract import Warehouse, day_runs


def check_problems(datasets: Iterable[Dataset], instance: dg.DagsterInstance, window_first: date) -> list[Problem]:
    """Failed ``complete_partition`` days older than the lookback window: one problem per run of
    consecutive such days.

    Days inside the window are judged live by :func:`classify` (with the same completeness rule),
    so a partial day there is one gap problem, not a gap and a check. A check failure on older
    days (e.g. a settlement-run re-pull 55 days back that came back short) is read from the check's
    latest evaluation of each partition day (``defs/partition_checks.py`` records one per day, on a
    range run too): FAILED with ERROR severity (WARN: the day was still in progress). It clears
    when a later evaluation of that day passes.
    """
    keys = {dg.AssetCheckKey(asset_key(ds), "complete_partition"): ds for ds in datasets}
    storage = instance.event_log_storage
    failed: dict[dg.AssetCheckKey, dict[date, str | None]] = {}
    for info in storage.get_asset_check_partition_info(list(keys)):
        if (info.partition_key is None or info.latest_execution_status.value != "FAILED"
                or parse_day(info.partition_key) >= window_first):
            continue
        latest = storage.get_latest_asset_check_execution_by_key(
            [info.check_key], partition_filter=PartitionKeyFilter(key=info.partition_key)).get(info.check_key)
        evaluation = latest.event.asset_check_evaluation if latest and latest.event else None
        if evaluation is not None and evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        failed.setdefault(info.check_key, {})[parse_day(info.partition_key)] = (
            evaluation.description if evaluation is not None else None)
    out: list[Problem] = []
    for key, days in failed.items():
        for first, last in day_runs(days):
            why = "; ".join(filter(None, (days[d] for d in sorted(days) if first <= d <= last))) or None
            problem = failed_check_problem(keys[key], first.isoformat(), last.isoformat(), why, window_first)
            if problem is not None:
                out.append(problem)
    return out


def exhausted_problems(datasets: Iterable[Dataset], instance: dg.DagsterInstance,
                       partitions_def: dg.PartitionsDefinition, now: datetime, lookback: int) -> list[Problem]:
    """Failed days of the alert lookback whose retries are spent: automation no longer requests them,
    so each is one alert (with the last error) until a person makes the day succeed."""
    today = london_today(now)
    days = [today - timedelta(days=i) for i in range(max(lookback, heal_lookback().days), -1, -1)]
    days = [d for d in days if d >= start_date()]
    out = []
    for ds in datasets:
        status = partition_status(instance, ds, [d.isoformat() for d in days], partitions_def)
        for key, state in sorted(status.items()):
            if state != "FAILED":
                continue
            retry = retry_state(instance, asset_key(ds), key)
            if retry.exhausted():
                day = date.fromisoformat(key)
                out.append(Problem(ds.code, "retries", "fail",
                                   f"{ds.code} {key} failed {retry.failures} times; automation stopped retrying it "
                                   f"and it needs a person (re-run it once the cause is fixed). Last error: "
                                   f"{retry.last_error}", day, day))
    return out


def evaluate_problems(datasets: Iterable[Dataset], instance: dg.DagsterInstance, warehouse: Warehouse,
                      partitions_def: dg.PartitionsDefinition, now: datetime | None = None,
                      lookback: int | None = None, reported: Iterable[Reported] = ()) -> Evaluation:
    """The current problems of every dataset, read from ``instance`` and ``warehouse``.

    See :func:`bmrs_assets.monitoring.alerts.find_problems` for the rules (lookback window,
    reported gaps kept open until filled, one dataset's failure never silencing the others).
    """
    datasets = list(datasets)
    now = now or datetime.now(UTC)
    evaluation = find_problems(
        datasets,
        freshness=lambda ds: freshness(instance, ds, now),
        classify=lambda ds, first, last: classify(ds, first, last, instance, warehouse, partitions_def, now),
        failed_checks=lambda window_first: check_problems(datasets, instance, window_first),
        now=now, lookback=lookback, reported=reported)
    try:
        evaluation.problems.extend(exhausted_problems(datasets, instance, partitions_def, now,
                                                      lookback_days() if lookback is None else lookback))
    except Exception as exc:  # never silences the other problems, never taken for a recovery
        evaluation.unavailable.update((ds.code, "retries") for ds in datasets)
        evaluation.errors.append(f"could not read retry counts ({type(exc).__name__}: {exc})")
    return evaluation


def build_alert_sensor(datasets: Iterable[Dataset] | None = None) -> dg.SensorDefinition:
    """The ``bmrs_alerts`` sensor; on by default so ``dagster dev`` alerts out of the box."""
    chosen = list(datasets) if datasets is not None else list(REGISTRY.values())

    @dg.sensor(name="bmrs_alerts", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Posts one Slack-compatible message per new freshness/gap/check problem to "
                           f"{WEBHOOK_ENV} (logs only without it), and one when it is resolved.")
    def bmrs_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        url = setting(WEBHOOK_ENV)
        now = datetime.now(UTC)
        evaluation = evaluate_problems(chosen, context.instance, warehouse.get(), daily_partitions(), now,
                                       reported=load_cursor(context.cursor))

        def log(level: str, text: str) -> None:
            getattr(context.log, level)(text)

        result = run_tick(context.cursor, evaluation, log, url, now)
        return dg.SensorResult(skip_reason=result.summary, cursor=result.cursor)

    return bmrs_alerts
