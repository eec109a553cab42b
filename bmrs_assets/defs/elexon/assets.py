"""The asset factory: one daily-partitioned asset per registry entry.

Each asset is thin: it asks the warehouse what it remembers of the partition days, and returns the
write (``warehouse/contract.py``'s ``PartitionBatch``) of a source: the API (``elexon/api_source.py``:
fetched, typed and validated day by day, lazily, while the IO manager stages them), or for a run
tagged ``bmrs/source=iris`` the landing store (``iris/landed_source.py``). The warehouse IO manager
MERGEs the whole batch (``defs/io_manager.py``). The sources, and pandas, pyarrow and httpx with
them, are imported when an asset runs, not when the code location loads.
"""

from datetime import date, timedelta

import dagster as dg

from bmrs_assets.core.settlement import parse_day
from bmrs_assets.core.tables import WriteSemantics
from bmrs_assets.defs.conventions import asset_conventions, dataset_code_version, definition_metadata, kinds
from bmrs_assets.defs.elexon.automation import automation_condition
from bmrs_assets.defs.iris.landed_runs import is_iris_run, landing_store
from bmrs_assets.defs.resources import ElexonApiResource, WarehouseResource
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.settings import start_date, value
from bmrs_assets.warehouse.contract import PartitionBatch, Warehouse

API_POOL = "elexon_api"
# the tags Dagster puts on a run over a partition range (a backfill's run, or `python -m bmrs_assets run`)
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# a run tagged bmrs/full_refresh=true parses and MERGEs every day, remembered or not (the CLI's --full-refresh)
FULL_REFRESH_TAG = "bmrs/full_refresh"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """GB settlement days (Europe/London), from BMRS_START_DATE up to and including today."""
    return dg.DailyPartitionsDefinition(start_date=start_date().isoformat(), timezone="Europe/London", end_offset=1)


def backfill_policy(ds: Dataset) -> dg.BackfillPolicy:
    """Runs of ``ds.days_per_run`` partition days (sized from the registry's volume), capped by
    BMRS_BACKFILL_MAX_DAYS_PER_RUN: a history backfill is a bounded number of bounded runs, each
    queued behind the run queue and the ``elexon_api`` pool."""
    cap = value("BMRS_BACKFILL_MAX_DAYS_PER_RUN")
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=min(ds.days_per_run, cap) if cap > 0 else ds.days_per_run)


def stored_history(ds: Dataset, days: list[date], warehouse: Warehouse) -> dict[date, int]:
    """Stored rows of the days before and in ``days``: what a current-state dataset's arriving days are
    judged against (the completeness rule's median floor) before they may delete anything."""
    if ds.semantics is not WriteSemantics.CURRENT_STATE or ds.completeness.median_fraction is None:
        return {}
    return warehouse.count_by_day(ds, days[0] - timedelta(days=ds.completeness.median_days), days[-1])


def build_dataset_asset(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset ``bmrs/<code>`` for one registry entry."""

    @dg.asset(
        key=["bmrs", ds.asset_name],
        partitions_def=partitions,
        backfill_policy=backfill_policy(ds),
        io_manager_key="warehouse_io_manager",
        pool=API_POOL,
        group_name="elexon",
        automation_condition=automation_condition(ds),
        kinds=kinds(),  # python and the configured warehouse
        description=f"{ds.description}\n\nSource: `{ds.path}`; table `{ds.table}`; key {list(ds.key)}.",
        metadata={"table": ds.table, "endpoint": ds.path, "natural_key": ", ".join(ds.key),
                  "partition_column": ds.partition_column, **definition_metadata(ds)},
        **asset_conventions(dataset_code_version(ds)),  # code_version from the typing; owners, tags
    )
    def dataset_asset(context: dg.AssetExecutionContext, elexon: ElexonApiResource,
                      warehouse: WarehouseResource) -> PartitionBatch:
        days = sorted(parse_day(k) for k in context.partition_keys)
        if is_iris_run(context.run.tags):  # tag bmrs/source=iris: the days' landed IRIS rows, not the API
            from bmrs_assets.iris.landed_source import LandedSource

            return LandedSource(ds, landing_store(), context.run_id, log=context.log).batch(days)
        from bmrs_assets.elexon.api_source import ApiSource

        full = context.run.tags.get(FULL_REFRESH_TAG, "").lower() == "true"  # every day parsed and repaired
        # asked before fetching: unchanged days still stored as merged are not parsed, damaged ones repaired
        remembered = {} if full else warehouse.get().remembered_digests(ds, days)
        return ApiSource(ds, elexon.client(), remembered, in_flight=elexon.in_flight, log=context.log,
                         history=stored_history(ds, days, warehouse.get()),
                         workers=elexon.typing_workers).batch(days, repair_all=full)

    return dataset_asset


def build_dataset_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_dataset_asset(ds, partitions) for ds in REGISTRY.values()]
