"""Asset checks generated from the registry, run against the warehouse after each write."""


import dagster as dg

from bmrs_assets.registry import REGISTRY, Dataset
from bmrs_assets.resources import WarehouseResource
from bmrs_assets.settlement import parse_day


def build_unique_key_check(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """Fails if any natural key of the checked partitions occurs twice in the table."""

    @dg.asset_check(asset=dg.AssetKey(["bmrs", ds.asset_name]), name="unique_natural_key",
                    partitions_def=partitions, blocking=True,
                    description=f"No two rows of {ds.table} share the key ({', '.join(ds.key)}).")
    def unique_key(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        days = sorted(parse_day(k) for k in context.partition_keys)
        wh = warehouse.get()
        duplicates = wh.duplicate_keys(ds, days[0], days[-1])
        rows = sum(wh.count_by_day(ds, days[0], days[-1]).values())
        return dg.AssetCheckResult(passed=duplicates == 0,
                                   metadata={"duplicate_keys": duplicates, "rows_checked": rows})

    return unique_key


def build_checks(partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    return [build_unique_key_check(ds, partitions) for ds in REGISTRY.values()]
