"""Data quality, Dagster side: what the instance knows, handed to the Dagster-free ``quality`` rules.

``bmrs_assets.quality`` judges plain data (a partition key -> status mapping, a last-materialized
time). This module reads those facts from a ``DagsterInstance`` and builds the asset's
``FreshnessPolicy`` from the registry's ``Freshness`` rule, so the UI and the plain-Python
evaluation (:func:`bmrs_assets.quality.freshness.freshness_status`) apply one rule.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from bmrs_assets.core.settlement import UTC, london_today
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.quality.gaps import DayStatus, classify_days, days_to_classify
from bmrs_assets.quality.rules import Freshness
from bmrs_assets.warehouse.contract import Warehouse


def asset_key(ds: Dataset) -> dg.AssetKey:
    """The dataset's asset key, ``bmrs/<code>``."""
    return dg.AssetKey(["bmrs", ds.asset_name])


def freshness_policy(rule: Freshness) -> dg.FreshnessPolicy:
    """The Dagster policy for a registry ``Freshness`` rule."""
    if rule.cron:
        return dg.FreshnessPolicy.cron(deadline_cron=rule.cron, lower_bound_delta=rule.cron_lower_bound or timedelta(days=1),
                                       timezone="Europe/London")
    return dg.FreshnessPolicy.time_window(fail_window=rule.fail_after, warn_window=rule.warn_after)


def last_materialized(instance: dg.DagsterInstance, ds: Dataset) -> datetime | None:
    """When any partition of ``ds`` was last materialized, from the instance's event log."""
    event = instance.get_latest_materialization_event(asset_key(ds))
    return datetime.fromtimestamp(event.timestamp, UTC) if event else None


def partition_status(instance: dg.DagsterInstance, ds: Dataset, keys: list[str],
                     partitions_def: dg.PartitionsDefinition) -> dict[str, str]:
    """Partition key -> status name (``MATERIALIZED``, ``FAILED``, ``MATERIALIZING``) for ``keys``.

    A key the instance has no status for is left out: never materialized.
    """
    status = instance.get_status_by_partition(asset_key(ds), keys, partitions_def) or {}
    return {key: state.value for key, state in status.items() if state is not None}


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
