"""The asset factory: one daily-partitioned asset per registry entry.

Reading top to bottom: for each partition day, the client fetches every row the API has
(``client.py``), ``frames.py`` types and validates them against the registry's schema, and the
warehouse IO manager MERGEs the whole batch (``io_managers.py``). Days are fetched lazily while
the IO manager stages them, so a long range never sits in memory at once.
"""


from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd

from bmrs_assets.automation import automation_condition
from bmrs_assets.client import ElexonClient
from bmrs_assets.config import start_date
from bmrs_assets.frames import to_frame
from bmrs_assets.freshness import freshness_policy
from bmrs_assets.iris_runs import is_iris_run, landed_frames
from bmrs_assets.registry import REGISTRY, Dataset
from bmrs_assets.resources import ElexonApiResource
from bmrs_assets.settlement import parse_day
from bmrs_assets.warehouse import PartitionBatch

API_POOL = "elexon_api"


class EmptyPartition(RuntimeError):
    """The API answered, but with no rows, for a dataset that always has rows."""


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """GB settlement days (Europe/London), from BMRS_START_DATE up to and including today."""
    return dg.DailyPartitionsDefinition(start_date=start_date().isoformat(), timezone="Europe/London", end_offset=1)


def fetch_frames(ds: Dataset, days: list[date], client: ElexonClient, info: dict,
                 log: object | None = None) -> Iterator[tuple[date, pd.DataFrame]]:
    """Fetch, type and validate each day in turn; counters go into ``info`` for metadata."""
    info.update(rows_fetched=0, rows_outside_partition=0, unknown_fields=[], api_requests=0,
                api_retries=0, api_window_splits=0, api_bytes=0, fetch_seconds=0.0)
    try:
        for day in days:
            rows, stats = client.fetch_day(ds, day)
            info["api_requests"] += stats.requests
            info["api_retries"] += stats.retries
            info["api_window_splits"] += stats.splits
            info["api_bytes"] += stats.bytes
            info["fetch_seconds"] += stats.seconds
            info["rows_fetched"] += len(rows)
            frame, report = to_frame(ds, day, rows, ingested_utc=datetime.now(UTC))
            del rows
            info["rows_outside_partition"] += report.rows_outside_partition
            info["unknown_fields"] = sorted(set(info["unknown_fields"]) | set(report.unknown_fields))
            if report.unknown_fields and log is not None:
                log.warning(f"{ds.code} {day}: API sent fields the registry does not know, kept in "
                            f"_extra: {report.unknown_fields}")
            if frame.empty and not ds.allow_empty:
                raise EmptyPartition(
                    f"{ds.code} partition {day}: the API returned {report.rows_received} row(s) and none "
                    f"belong to this settlement day; {ds.code} always has data, so this partition fails "
                    "rather than succeed empty (re-run it once Elexon has published the day)")
            yield day, frame
    finally:
        client.close()


def build_dataset_asset(ds: Dataset, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset ``bmrs/<code>`` for one registry entry."""

    @dg.asset(
        key=["bmrs", ds.asset_name],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="warehouse_io_manager",
        pool=API_POOL,
        group_name="elexon",
        freshness_policy=freshness_policy(ds.freshness),
        automation_condition=automation_condition(ds),
        kinds={"python", "duckdb"},
        description=f"{ds.description}\n\nSource: `{ds.path}`; table `{ds.table}`; key {list(ds.key)}.",
        metadata={"table": ds.table, "endpoint": ds.path, "natural_key": ", ".join(ds.key),
                  "partition_column": ds.partition_column},
    )
    def dataset_asset(context: dg.AssetExecutionContext, elexon: ElexonApiResource) -> PartitionBatch:
        days = sorted(parse_day(k) for k in context.partition_keys)
        info: dict = {}
        if is_iris_run(context.run.tags):  # tag bmrs/source=iris: the days' landed IRIS rows, not the API
            return PartitionBatch(ds, days, landed_frames(ds, days, info, context.run_id, log=context.log), info)
        return PartitionBatch(ds, days, fetch_frames(ds, days, elexon.client(), info, context.log), info)

    return dataset_asset


def build_dataset_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_dataset_asset(ds, partitions) for ds in REGISTRY.values()]
