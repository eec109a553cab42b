"""Freshness in the UI: the ``fresh_latest_partitions`` check of every dataset, and the sensor that keeps it current.

Dagster 1.13's ``FreshnessPolicy`` judges the newest materialization of *any* partition (the
freshness daemon's ``TimeWindowFreshnessPolicyEvaluator`` / ``CronFreshnessPolicyEvaluator`` read
the asset record's ``last_materialization``; no option looks at a partition), so a heal run of an old
day would make it pass. The datasets therefore carry no policy. Each has this non-blocking check
instead, whose verdict is :func:`bmrs_assets.defs.quality.freshness`, the function the alert sensor
and the dashboard call: one rule, on the same facts. The ``bmrs_freshness`` sensor (every minute,
on by default) records a runless evaluation whenever a dataset's verdict (state or deciding day)
changes, so the UI follows the clock without launching runs; executing the check in the UI
records the same verdict.
"""

from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from bmrs_assets.core.settlement import UTC
from bmrs_assets.defs.quality import asset_key, freshness
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.quality.freshness import FreshnessStatus

CHECK_NAME = "fresh_latest_partitions"
SENSOR_NAME = "bmrs_freshness"


def check_key(ds: Dataset) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset_key(ds), CHECK_NAME)


def _metadata(status: FreshnessStatus) -> dict[str, str | int]:
    return {"state": status.state, "day": status.day.isoformat() if status.day else "none",
            "last_materialized": status.last_materialized.isoformat(timespec="seconds")
            if status.last_materialized else "never",
            "age_seconds": int(status.age.total_seconds()) if status.age is not None else -1}


def _severity(status: FreshnessStatus) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.WARN if status.state == "warn" else dg.AssetCheckSeverity.ERROR


def evaluation(ds: Dataset, status: FreshnessStatus) -> dg.AssetCheckEvaluation:
    """The check evaluation for a verdict: passed only on ``pass``; ``warn`` fails with WARN severity."""
    return dg.AssetCheckEvaluation(asset_key=asset_key(ds), check_name=CHECK_NAME, passed=status.state == "pass",
                                   severity=_severity(status), description=status.detail,
                                   metadata=_metadata(status))


def recorded_state(instance: dg.DagsterInstance, ds: Dataset) -> tuple[str, str] | None:
    """(state, deciding day) of the latest recorded evaluation of the check; None if there is none."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key(ds)]).get(check_key(ds))
    ev = latest.event.asset_check_evaluation if latest and latest.event else None
    if ev is None or "state" not in ev.metadata:
        return None
    return str(ev.metadata["state"].value), str(ev.metadata["day"].value)


def record_changes(instance: dg.DagsterInstance, datasets: Iterable[Dataset], now: datetime | None = None) -> list[str]:
    """Record the check evaluation of each dataset whose verdict changed since the last one; their codes."""
    now = now or datetime.now(UTC)
    changed = []
    for ds in datasets:
        status = freshness(instance, ds, now)
        if recorded_state(instance, ds) != (status.state, status.day.isoformat() if status.day else "none"):
            instance.report_runless_asset_event(evaluation(ds, status))
            changed.append(f"{ds.code} {status.state}")
    return changed


def build_freshness_check(ds: Dataset) -> dg.AssetChecksDefinition:
    """``fresh_latest_partitions`` of ``ds``: executing it records the current verdict."""

    @dg.asset_check(asset=asset_key(ds), name=CHECK_NAME, blocking=False,
                    description=f"{ds.code}'s latest partition days were materialized recently enough for "
                                f"{ds.freshness} and passed their blocking checks (recorded every minute by "
                                f"the {SENSOR_NAME} sensor).")
    def fresh_latest_partitions(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        status = freshness(context.instance, ds)
        return dg.AssetCheckResult(passed=status.state == "pass", severity=_severity(status),
                                   description=status.detail, metadata=_metadata(status))

    return fresh_latest_partitions


def build_freshness_checks() -> list[dg.AssetChecksDefinition]:
    return [build_freshness_check(ds) for ds in REGISTRY.values()]


def build_freshness_sensor(datasets: Iterable[Dataset] | None = None) -> dg.SensorDefinition:
    chosen = list(datasets) if datasets is not None else list(REGISTRY.values())

    @dg.sensor(name=SENSOR_NAME, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Records each dataset's {CHECK_NAME} verdict when it changes (latest partition days "
                           "recent and their blocking checks passed; bmrs_assets/quality/freshness.py).")
    def bmrs_freshness(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        changed = record_changes(context.instance, chosen)
        return dg.SkipReason(f"freshness changed: {', '.join(changed)}" if changed else "no freshness change")

    return bmrs_freshness
