"""Asset checks generated from the registry, run against the warehouse after each write.

``unique_natural_key`` and ``complete_partition`` judge each partition day of their run and record
one evaluation per day (``defs/partition_checks.py``: on a range run too, so the UI shows each
day passed or failed); ``no_gaps_recent_days`` is unpartitioned and judges the recent days at once.
"""

from collections.abc import Iterator
from datetime import date, timedelta

import dagster as dg

from bmrs_assets.core.settlement import london_today, parse_day
from bmrs_assets.defs.partition_checks import CheckEvent, evaluations
from bmrs_assets.defs.quality import classify
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.quality.completeness import Verdict, evaluate
from bmrs_assets.quality.gaps import gaps_of, summary
from bmrs_assets.settings import start_date, value
from bmrs_assets.warehouse.contract import KeyCounts, Warehouse


def key_results(ds: Dataset, days: list[date], wh: Warehouse) -> dict[str, dg.AssetCheckResult]:
    """Each day's uniqueness: its rows and the natural keys repeated among them.

    One range count answers the usual case (no key repeats in the range, so none in any day); only
    when one does are the days counted one by one, and a repeat no single day holds (a key without
    the partition column, on two days) fails every day of the range."""
    overall = wh.key_counts(ds, days[0], days[-1])
    if overall.duplicate_keys:
        per_day = {d: wh.key_counts(ds, d, d) for d in days}
    else:
        stored = wh.count_by_day(ds, days[0], days[-1])
        per_day = {d: KeyCounts(stored.get(d, 0), 0) for d in days}
    across = max(0, overall.duplicate_keys - sum(c.duplicate_keys for c in per_day.values()))
    return {d.isoformat(): dg.AssetCheckResult(
                passed=c.duplicate_keys == 0 and not across,
                description=f"{across} key(s) repeated across days {days[0]}...{days[-1]}" if across else None,
                metadata={"duplicate_keys": c.duplicate_keys, "rows_checked": c.rows,
                          **({"duplicate_keys_across_days": across} if across else {})})
            for d, c in per_day.items()}


def build_unique_key_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails a partition day when a natural key occurs twice in the table's rows of that day."""

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="unique_natural_key",
                    partitions_def=partitions, blocking=True,
                    description=f"No two rows of {ds.table} share the key ({', '.join(ds.key)}).")
    def unique_key(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[CheckEvent]:
        days = sorted(parse_day(k) for k in context.partition_keys)
        yield from evaluations(context, key_results(ds, days, warehouse.get()))

    return unique_key


def completeness_result(day: date, verdict: Verdict) -> dg.AssetCheckResult:
    """One day's completeness; a shortfall of a day not yet over (London) is a WARN, not a failure to block on."""
    line = f"{day}: {verdict.actual} rows, expected {verdict.expected}: {verdict.reason}"
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN if verdict.in_progress and not verdict.passed else dg.AssetCheckSeverity.ERROR,
        description=None if verdict.passed else f"{day}: {verdict.reason}"[:1000],
        metadata={"rows": verdict.actual, "expected": verdict.expected, "reason": verdict.reason,
                  "in_progress": verdict.in_progress, "detail": dg.MetadataValue.md(f"* {line}")})


def build_completeness_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails (blocking) each stored partition day that is short of what that dataset has on that day."""
    rule = ds.completeness

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="complete_partition",
                    partitions_def=partitions, blocking=True,
                    description=f"{ds.code} partition days hold what a complete day holds ({rule}).")
    def complete_partition(context: dg.AssetCheckExecutionContext,
                           warehouse: WarehouseResource) -> Iterator[CheckEvent]:
        days = sorted(parse_day(k) for k in context.partition_keys)
        stats = warehouse.get().day_stats(ds, days[0] - timedelta(days=rule.median_days), days[-1])
        history = {d: s.rows for d, s in stats.items()}
        yield from evaluations(context, {d.isoformat(): completeness_result(d, evaluate(ds, d, stats.get(d), history))
                                         for d in days})

    return complete_partition


def build_gap_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails when any of the last N days is missing, failed or partial (N = BMRS_GAP_CHECK_DAYS, 14)."""

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="no_gaps_recent_days",
                    description=f"Every {ds.code} day of the recent past is materialized and complete.",
                    automation_condition=dg.AutomationCondition.cron_tick_passed("5 * * * *"))
    def no_gaps(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        days = value("BMRS_GAP_CHECK_DAYS")
        today = london_today()
        first = max(start_date(), today - timedelta(days=days))
        statuses = classify(ds, first, today - timedelta(days=1), context.instance, warehouse.get(), partitions)
        found = gaps_of(statuses)
        return dg.AssetCheckResult(
            passed=not found,
            metadata={"days_checked": len(statuses), **{k: v for k, v in summary(statuses).items()},
                      "gaps": dg.MetadataValue.md("\n".join(
                          f"* {g.status} {g.partition_range} ({g.days} days)" for g in found) or "none")})

    return no_gaps


def build_checks(partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    return [check for ds in REGISTRY.values() for check in (
        build_unique_key_check(ds, partitions), build_completeness_check(ds, partitions), build_gap_check(ds, partitions))]
