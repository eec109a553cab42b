"""Data quality, Dagster side: what the instance knows, handed to the Dagster-free ``quality`` rules.

``bmrs_assets.quality`` judges plain data (a partition key -> status mapping, the facts of the
latest partition days). This module reads those facts from a ``DagsterInstance``: partition
statuses, each day's latest materialization and the latest evaluation of its blocking checks.
:func:`freshness` is the one freshness verdict: the ``fresh_latest_partitions`` check shown in
the UI, the alert sensor and the dashboard all call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter  # not exported by dagster 1.13; the storage API takes them
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as CheckStatus

from bmrs_assets.core.settlement import UTC, london_today
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.quality.freshness import FreshnessStatus, PartitionFacts, freshness_status, required_days
from bmrs_assets.quality.gaps import DayStatus, classify_days, days_to_classify
from bmrs_assets.settings import start_date
from bmrs_assets.warehouse.contract import Warehouse

# the blocking checks of every dataset (elexon/checks.py) and derived table (unique key only)
BLOCKING_CHECKS = ("unique_natural_key", "complete_partition")
_EVALUATED = {CheckStatus.SUCCEEDED, CheckStatus.FAILED}


def asset_key(ds: Dataset) -> dg.AssetKey:
    """The dataset's asset key, ``bmrs/<code>``."""
    return dg.AssetKey(["bmrs", ds.asset_name])


@dataclass(frozen=True)
class BlockingChecks:
    """The blocking checks of one partition: failed = latest evaluation failed with ERROR severity (what
    Dagster's blocking stops on; WARN is a day still in progress); pending = planned by a run still going."""

    failed: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


def blocking_checks(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str,
                    names: Iterable[str] = BLOCKING_CHECKS) -> BlockingChecks:
    """The state of ``key``'s blocking checks for ``partition``, from the per-partition check executions
    Dagster records (a single-partition run's evaluation names its partition). A check never
    evaluated for the partition is neither failed nor pending."""
    storage = instance.event_log_storage
    failed, pending = [], []
    for name in names:
        check_key, where = dg.AssetCheckKey(key, name), PartitionKeyFilter(key=partition)
        latest = storage.get_asset_check_execution_history(check_key, limit=1, partition_filter=where)
        if latest and latest[0].status is CheckStatus.PLANNED:
            run = instance.get_run_by_id(latest[0].run_id)
            if run is not None and not run.is_finished:
                pending.append(name)
                continue
        evaluated = storage.get_asset_check_execution_history(check_key, limit=1, partition_filter=where,
                                                              status=_EVALUATED)
        evaluation = evaluated[0].event.asset_check_evaluation if evaluated and evaluated[0].event else None
        if evaluation is not None and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed.append(name)
    return BlockingChecks(tuple(failed), tuple(pending))


def latest_materialization_record(instance: dg.DagsterInstance, key: dg.AssetKey,
                                  partition: str) -> dg.EventLogRecord | None:
    """The latest materialization event of ``partition`` of ``key`` (None: never materialized)."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]),
                                              limit=1).records
    return records[0] if records else None


def latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> datetime | None:
    """When ``partition`` of ``key`` was last materialized (None: never)."""
    record = latest_materialization_record(instance, key, partition)
    return datetime.fromtimestamp(record.timestamp, UTC) if record else None


def latest_partitions(instance: dg.DagsterInstance, ds: Dataset, days: Iterable[date]) -> dict[date, PartitionFacts]:
    """The freshness facts of ``days``: each day's latest materialization and failed blocking checks."""
    key = asset_key(ds)
    return {d: PartitionFacts(d, latest_materialization(instance, key, d.isoformat()),
                              blocking_checks(instance, key, d.isoformat()).failed) for d in days}


def freshness(instance: dg.DagsterInstance, ds: Dataset, now: datetime | None = None) -> FreshnessStatus:
    """The freshness of ``ds`` at ``now``: :func:`bmrs_assets.quality.freshness.freshness_status` on the facts
    of the days it requires, read from ``instance``."""
    now = now or datetime.now(UTC)
    first = start_date()
    return freshness_status(ds, latest_partitions(instance, ds, required_days(ds.freshness, now, first)), now, first)


def partition_status(instance: dg.DagsterInstance, ds: Dataset, keys: list[str],
                     partitions_def: dg.PartitionsDefinition) -> dict[str, str]:
    """Partition key -> status name (``MATERIALIZED``, ``FAILED``, ``IN_PROGRESS``) for ``keys``.

    A key the instance has no status for is left out: never materialized. A key being materialized
    again (a refresh of today or yesterday, a re-pull) that has been materialized before is
    ``MATERIALIZED``: its stored day is still there and is judged as it is, so a complete day is not
    reported as a gap, then as resolved, at every refresh. Only a first materialization in progress
    is ``IN_PROGRESS``.
    """
    status = instance.get_status_by_partition(asset_key(ds), keys, partitions_def) or {}
    out = {key: state.value for key, state in status.items() if state is not None}
    running = {key for key, state in out.items() if state == dg.AssetPartitionStatus.IN_PROGRESS.value}
    if running:
        before = instance.event_log_storage.get_latest_storage_id_by_partition(
            asset_key(ds), dg.DagsterEventType.ASSET_MATERIALIZATION, running)
        out.update({key: dg.AssetPartitionStatus.MATERIALIZED.value for key in before})
    return out


def classify(ds: Dataset, first: date, last: date, instance: dg.DagsterInstance, warehouse: Warehouse,
             partitions_def: dg.PartitionsDefinition, now: datetime | None = None) -> list[DayStatus]:
    """The status of every partition day of ``ds`` from ``first`` to ``last`` (days begun by ``now``)."""
    now = now or datetime.now(UTC)
    days = days_to_classify(first, last, now)
    if not days:
        return []
    status = partition_status(instance, ds, [d.isoformat() for d in days], partitions_def)
    return classify_days(ds, days, status, warehouse, now)


def report(datasets: list[Dataset], since: date, instance: dg.DagsterInstance, warehouse: Warehouse,
           partitions_def: dg.PartitionsDefinition, until: date | None = None) -> dict[str, list[DayStatus]]:
    """Every dataset's day statuses from ``since`` to ``until`` (default today): ``python -m bmrs_assets gaps``."""
    until = until or london_today()
    return {ds.code: classify(ds, since, until, instance, warehouse, partitions_def) for ds in datasets}
