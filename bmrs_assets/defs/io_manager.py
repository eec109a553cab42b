"""The Dagster IO manager: every dataset asset's output is MERGEd into its warehouse table.

It deletes only what a current-state table's whole day no longer holds (``WriteSemantics``; the
rows deleted are counted per day in the metadata and logged): an empty batch changes nothing, and
a re-run of unchanged data updates nothing.
A range run (one run over many partitions) is written in chunks of whole days
(``warehouse/chunks.py``), each its own atomic MERGE, so memory follows the chunk and not the
range; each committed day is logged as it commits (day k of N, rows, seconds, time left). A day
that fails costs that day only: the others are committed and materialized (one materialization
per committed partition, with that day's counts), and the step then fails naming each failed day
and why, so Dagster shows the failed partitions and the gap stays visible.

``dagster/row_count`` (Dagster's convention, shown in the UI and catalog) is the rows *stored* for
the run's partition days once the write has committed - counted in the warehouse
(``count_by_day``), not the rows written, so it stays the table's truth for those days on a re-run
that changes nothing. On a range run each partition's materialization carries its own day: its
``dagster/row_count``, and ``per_day`` / ``per_day_json`` of that day alone (partition-scoped
metadata); the run's totals (``rows_*``, requests, seconds) are on every partition, and the range's
whole per-day table is on the step's handled-output event. A failed range's per-day
materializations carry their own day's count too.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from bmrs_assets.core.durations import format_duration
from bmrs_assets.core.settlement import parse_day
from bmrs_assets.defs.conventions import ROW_COUNT
from bmrs_assets.defs.resources import WarehouseResource
from bmrs_assets.revenue.tables import get_table_spec
from bmrs_assets.settings import SETTINGS
from bmrs_assets.warehouse.chunks import Commit, RangeResult, write_in_chunks
from bmrs_assets.warehouse.contract import DayCounts, MergeResult, PartitionBatch, Warehouse

if TYPE_CHECKING:
    import pandas as pd

PROGRESS = logging.getLogger("bmrs_assets.progress")  # the same lines, for a terminal (the CLI shows them)


class Progress:
    """Logs one line per committed day: day k of N, its rows, its seconds, the time left; to
    :data:`PROGRESS` line by line, and to the run's Dagster log (the UI) as one entry per commit
    holding its days' lines: each entry is an event-log write, so a chunk costs one, not one a day."""

    def __init__(self, log: logging.Logger | dg.DagsterLogManager, code: str, total: int) -> None:
        self.log, self.code, self.total = log, code, total

    def __call__(self, commit: Commit) -> None:
        days = sorted(commit.result.days.items())
        first = commit.days_done - len(days)
        per_day = commit.seconds / max(1, len(days))
        left = commit.elapsed / max(1, commit.days_done) * (commit.days_total - commit.days_done)
        lines = []
        for i, (day, c) in enumerate(days, start=1):
            line = (f"{self.code} {day}: day {first + i} of {self.total} committed, {c.fetched:,} rows "
                    f"({c.inserted:,} inserted, {c.updated:,} updated, {c.unchanged:,} unchanged"
                    f"{f', {c.stale:,} stale' if c.stale else ''}{f', {c.deleted:,} deleted' if c.deleted else ''}), "
                    f"{per_day:.1f} s; about {format_duration(left)} left")
            lines.append(line)
            PROGRESS.info(line)
        if lines:
            self.log.info("\n".join(lines))


def day_metadata(counts: DayCounts) -> dict[str, object]:
    return {"rows_fetched": counts.fetched, "rows_inserted": counts.inserted, "rows_updated": counts.updated,
            "rows_unchanged": counts.unchanged, "rows_stale_skipped": counts.stale, "rows_deleted": counts.deleted}


def _key(day: date) -> str:
    return day.isoformat()


def stored_rows(warehouse: Warehouse, batch: PartitionBatch) -> dict[date, int]:
    """The rows the warehouse holds for each day of the batch (0 for a day without any), after the write."""
    stored = warehouse.count_by_day(batch.dataset, batch.days[0], batch.days[-1])
    return {day: stored.get(day, 0) for day in batch.days}


def _per_day(days: dict[date, DayCounts], stored: dict[date, int]) -> dict[str, object]:
    """The ``per_day_json`` and ``per_day`` (markdown) entries for these days."""
    table = "\n".join(f"| {d} | {c.fetched} | {c.inserted} | {c.updated} | {c.unchanged} | {c.stale} | {c.deleted} |"
                      for d, c in sorted(days.items()))
    return {
        "per_day_json": dg.MetadataValue.json({
            d.isoformat(): {"rows": c.fetched, "inserted": c.inserted, "updated": c.updated,
                            "unchanged": c.unchanged, "stale": c.stale, "deleted": c.deleted,
                            **({"stored": stored[d]} if d in stored else {})}
            for d, c in sorted(days.items())}),
        "per_day": dg.MetadataValue.md(
            "| day | rows | inserted | updated | unchanged | stale (skipped) | deleted |\n|---|---|---|---|---|---|---|\n"
            + table),
    }


def partition_metadata(day: date, counts: DayCounts, stored: dict[date, int]) -> dict[str, object]:
    """What one partition of a range run shows instead of the range's: its stored rows and its day's counts.

    Dagster gives an output's metadata to each of its partitions; the range's per-day table on each
    of n partitions made a run's events grow with the square of its length (365 days: 365 copies
    of a 365-row table)."""
    return {**({ROW_COUNT: dg.MetadataValue.int(stored[day])} if day in stored else {}),
            **_per_day({day: counts}, stored)}


def merge_metadata(batch: PartitionBatch, result: MergeResult, seconds: float,
                   stored: dict[date, int] | None = None) -> dict[str, object]:
    """Materialization metadata: what was fetched (the batch's stats), what the MERGE did, how long it
    took, and (``stored``) the rows the table now holds for the batch's days."""
    stats = batch.stats
    stored = stored or {}
    return {
        **({ROW_COUNT: dg.MetadataValue.int(sum(stored.values()))} if stored else {}),
        "rows_fetched": stats.rows_fetched,
        "rows_inserted": result.total("inserted"),
        "rows_updated": result.total("updated"),
        "rows_unchanged": result.total("unchanged"),
        "rows_stale_skipped": result.total("stale"),
        "rows_deleted": result.total("deleted"),
        "duplicate_keys_in_batch": result.duplicates_in_batch,
        "rows_outside_partition": stats.rows_outside_partition,
        "unknown_fields": ", ".join(sorted(stats.unknown_fields)) or "none",
        "api_requests": stats.api_requests,
        "api_retries": stats.api_retries,
        "api_window_splits": stats.api_window_splits,
        "api_bytes": stats.api_bytes,
        "days_unchanged_body": stats.days_unchanged_body,
        "bodies_typed": stats.bodies_typed,
        "bodies_typed_by_workers": stats.bodies_typed_by_workers,
        "fetch_seconds": round(stats.fetch_seconds, 3),
        "merge_seconds": round(result.seconds, 3),
        "seconds": round(seconds, 3),
        **_per_day(result.days, stored),
    }


class WarehouseIOManager(dg.ConfigurableIOManager):
    """MERGE on the natural key for outputs, in chunks of whole days; the requested partitions' rows for inputs."""

    warehouse: WarehouseResource
    chunk_rows: int = SETTINGS["BMRS_CHUNK_ROWS"].default_value()
    chunk_days: int = SETTINGS["BMRS_CHUNK_DAYS"].default_value()
    give_up_after: int = SETTINGS["BMRS_RANGE_GIVE_UP_AFTER"].default_value()

    def handle_output(self, context: dg.OutputContext, obj: PartitionBatch) -> None:
        if not isinstance(obj, PartitionBatch):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a PartitionBatch, got {type(obj)}")
        code = obj.dataset.code
        started = time.perf_counter()
        warehouse = self.warehouse.get()
        outcome = write_in_chunks(warehouse, obj, max_rows=self.chunk_rows, max_days=self.chunk_days,
                                  give_up_after=self.give_up_after, on_commit=Progress(context.log, code, len(obj.days)))
        try:  # dagster/row_count: what the table holds for the days now
            stored = stored_rows(warehouse, obj)
        except Exception:
            if outcome.ok:
                raise
            stored = {}  # the failure that stopped the range is the one to report
        metadata = merge_metadata(obj, outcome.merged, time.perf_counter() - started, stored)
        metadata["chunks"] = outcome.chunks
        metadata.update(obj.extra_metadata())
        if not outcome.ok:
            self._fail(context, obj, outcome, metadata, stored)
        if metadata["rows_stale_skipped"]:
            context.log.warning(
                f"{code}: {metadata['rows_stale_skipped']} row(s) skipped: older (by {obj.dataset.revision_column}) "
                f"than the row stored for their key, which stays")
        if metadata["duplicate_keys_in_batch"]:
            ds = obj.dataset
            order = f"the latest {ds.revision_column}, then " if ds.revision_column else ""
            context.log.warning(
                f"{code}: {metadata['duplicate_keys_in_batch']} row(s) repeated the natural key "
                f"({', '.join(ds.key)}) of another row of the batch and were not stored separately: {order}the "
                "row the API sent last was kept (duplicate_keys_in_batch in the metadata)")
        if metadata["rows_deleted"]:
            context.log.info(
                f"{code}: {metadata['rows_deleted']} stored row(s) deleted that the source no longer holds: " + ", ".join(
                    f"{d} {c.deleted}" for d, c in sorted(outcome.merged.days.items()) if c.deleted))
        context.add_output_metadata(metadata)
        if len(obj.days) > 1:  # each partition its own day's figures, not the range's table n times over
            for day, counts in sorted(outcome.merged.days.items()):
                context.step_context.add_asset_metadata(partition_metadata(day, counts, stored),
                                                        asset_key=context.asset_key, partition_key=_key(day))
        context.log.info(
            f"{code} {obj.days[0]}..{obj.days[-1]}: fetched {metadata['rows_fetched']}, "
            f"inserted {metadata['rows_inserted']}, updated {metadata['rows_updated']}, "
            f"unchanged {metadata['rows_unchanged']}, stale {metadata['rows_stale_skipped']}, "
            f"deleted {metadata['rows_deleted']}, in {outcome.chunks} chunk(s)")

    @staticmethod
    def _fail(context: dg.OutputContext, obj: PartitionBatch, outcome: RangeResult,
              metadata: dict[str, object], stored: dict[date, int]) -> None:
        """Materialize each committed day on its own, then fail the step naming the days that were not."""
        for day, counts in sorted(outcome.merged.days.items()):
            context.log_event(dg.AssetMaterialization(
                asset_key=context.asset_key, partition=_key(day),
                metadata={ROW_COUNT: dg.MetadataValue.int(stored.get(day, 0)), **day_metadata(counts)}))
        code, missing = obj.dataset.code, len(outcome.failed) + len(outcome.not_attempted)
        raise dg.Failure(
            description=(f"{code}: {missing} of {len(obj.days)} day(s) not committed; the other "
                         f"{len(outcome.merged.days)} were committed and are materialized.\n{outcome.problems(code)}"),
            metadata={**{k: v for k, v in metadata.items() if k not in ("per_day", "per_day_json", ROW_COUNT)},
                      "failed_days": dg.MetadataValue.json({_key(d): r for d, r in sorted(outcome.failed.items())}),
                      "not_attempted_days": ", ".join(map(_key, outcome.not_attempted)) or "none",
                      "committed_days": len(outcome.merged.days)})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        ds = get_table_spec(context.asset_key.path[-1])  # a dataset or a derived (revenue) table
        keys = context.asset_partition_keys
        days = sorted(parse_day(k) for k in keys)
        return self.warehouse.get().read(ds, days[0], days[-1])
