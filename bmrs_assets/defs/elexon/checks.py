"""Asset checks generated from the registry, run against the warehouse after each write."""


from datetime import timedelta

import dagster as dg

from bmrs_assets.core.settlement import london_today, parse_day
from bmrs_assets.defs.quality import classify
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.quality.completeness import evaluate
from bmrs_assets.quality.gaps import gaps_of, summary
from bmrs_assets.settings import start_date, value


def build_unique_key_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails if any natural key of the checked partitions occurs twice in the table."""

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="unique_natural_key",
                    partitions_def=partitions, blocking=True,
                    description=f"No two rows of {ds.table} share the key ({', '.join(ds.key)}).")
    def unique_key(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        days = sorted(parse_day(k) for k in context.partition_keys)
        counts = warehouse.get().key_counts(ds, days[0], days[-1])
        return dg.AssetCheckResult(passed=counts.duplicate_keys == 0,
                                   metadata={"duplicate_keys": counts.duplicate_keys, "rows_checked": counts.rows})

    return unique_key


def build_completeness_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails (blocking) when a stored partition day is short of what that dataset has on that day."""
    rule = ds.completeness

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="complete_partition",
                    partitions_def=partitions, blocking=True,
                    description=f"{ds.code} partition days hold what a complete day holds ({rule}).")
    def complete_partition(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        days = sorted(parse_day(k) for k in context.partition_keys)
        wh = warehouse.get()
        stats = wh.day_stats(ds, days[0] - timedelta(days=rule.median_days), days[-1])
        history = {d: s.rows for d, s in stats.items()}
        verdicts = {d: evaluate(ds, d, stats.get(d), history) for d in days}
        failed = {d: v for d, v in verdicts.items() if not v.passed}
        hard = {d: v for d, v in failed.items() if not v.in_progress}
        lines = [f"{d}: {v.actual} rows, expected {v.expected}: {v.reason}" for d, v in sorted(verdicts.items())]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if hard or not failed else dg.AssetCheckSeverity.WARN,
            description="; ".join(f"{d}: {v.reason}" for d, v in sorted(failed.items()))[:1000] or None,
            metadata={"days_checked": len(days), "days_failed": len(failed),
                      "rows": sum(v.actual for v in verdicts.values()),
                      "expected": next(iter(verdicts.values())).expected,
                      "detail": dg.MetadataValue.md("\n".join(f"* {ln}" for ln in lines[:100]))})

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
