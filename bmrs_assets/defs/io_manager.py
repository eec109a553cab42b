"""The Dagster IO manager: every dataset asset's output is MERGEd into its warehouse table.

It never deletes: an empty batch changes nothing, a re-run of unchanged data updates nothing, and
a range run (one run over many partitions) is one MERGE for the whole range.
"""

from __future__ import annotations

import time

import dagster as dg
import pandas as pd

from bmrs_assets.core.settlement import parse_day
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.revenue.tables import get_table_spec
from bmrs_assets.warehouse.contract import MergeResult, PartitionBatch


def merge_metadata(batch: PartitionBatch, result: MergeResult, seconds: float) -> dict[str, object]:
    """Materialization metadata: what was fetched (the batch's stats), what the MERGE did, how long it took."""
    stats = batch.stats
    per_day = "\n".join(
        f"| {d} | {c.fetched} | {c.inserted} | {c.updated} | {c.unchanged} |"
        for d, c in sorted(result.days.items())
    )
    return {
        "rows_fetched": stats.rows_fetched,
        "rows_inserted": result.total("inserted"),
        "rows_updated": result.total("updated"),
        "rows_unchanged": result.total("unchanged"),
        "duplicate_keys_in_batch": result.duplicates_in_batch,
        "rows_outside_partition": stats.rows_outside_partition,
        "unknown_fields": ", ".join(sorted(stats.unknown_fields)) or "none",
        "api_requests": stats.api_requests,
        "api_retries": stats.api_retries,
        "api_window_splits": stats.api_window_splits,
        "api_bytes": stats.api_bytes,
        "days_unchanged_body": stats.days_unchanged_body,
        "fetch_seconds": round(stats.fetch_seconds, 3),
        "merge_seconds": round(result.seconds, 3),
        "seconds": round(seconds, 3),
        "per_day_json": dg.MetadataValue.json({
            d.isoformat(): {"rows": c.fetched, "inserted": c.inserted, "updated": c.updated,
                            "unchanged": c.unchanged} for d, c in sorted(result.days.items())}),
        "per_day": dg.MetadataValue.md(
            "| day | rows | inserted | updated | unchanged |\n|---|---|---|---|---|\n" + per_day),
    }


class WarehouseIOManager(dg.ConfigurableIOManager):
    """MERGE on the natural key for outputs; the requested partitions' rows for inputs."""

    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: PartitionBatch) -> None:
        if not isinstance(obj, PartitionBatch):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a PartitionBatch, got {type(obj)}")
        started = time.perf_counter()
        result = self.warehouse.get().merge(obj)
        for action in obj.after_commit:  # e.g. mark IRIS messages merged, once the MERGE has committed
            action(result)
        metadata = merge_metadata(obj, result, time.perf_counter() - started)
        metadata.update(obj.extra_metadata())
        context.add_output_metadata(metadata)
        context.log.info(
            f"{obj.dataset.code} {obj.days[0]}..{obj.days[-1]}: fetched {metadata['rows_fetched']}, "
            f"inserted {metadata['rows_inserted']}, updated {metadata['rows_updated']}, "
            f"unchanged {metadata['rows_unchanged']}")

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        ds = get_table_spec(context.asset_key.path[-1])  # a dataset or a derived (revenue) table
        keys = context.asset_partition_keys
        days = sorted(parse_day(k) for k in keys)
        return self.warehouse.get().read(ds, days[0], days[-1])
