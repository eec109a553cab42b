"""The asset factory: one daily-partitioned asset per registry entry.

Reading top to bottom: for each partition day, the client fetches every row the API has
(``client.py``), ``frames.py`` types and validates them against the registry's schema, and the
warehouse IO manager MERGEs the whole batch (``io_managers.py``). Days are fetched lazily while
the IO manager stages them (a few days ahead, bounded), so a long range never sits in memory at
once; a day whose response is byte-for-byte what the warehouse last merged is not parsed again.
"""


from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime

import dagster as dg
import pyarrow as pa

from bmrs_assets.core.conform import to_table, typing_fingerprint
from bmrs_assets.core.settlement import parse_day
from bmrs_assets.defs.elexon.automation import automation_condition
from bmrs_assets.defs.iris.landed_runs import is_iris_run, landed_frames
from bmrs_assets.defs.resources import ElexonApiResource
from bmrs_assets.elexon.client import Body, DayDigest, ElexonClient, initial_slices, parse_body
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.quality.freshness import freshness_policy
from bmrs_assets.settings import start_date
from bmrs_assets.warehouse.contract import PartitionBatch

API_POOL = "elexon_api"


class EmptyPartition(RuntimeError):
    """The API answered, but with no rows, for a dataset that always has rows."""


def daily_partitions() -> dg.DailyPartitionsDefinition:
    """GB settlement days (Europe/London), from BMRS_START_DATE up to and including today."""
    return dg.DailyPartitionsDefinition(start_date=start_date().isoformat(), timezone="Europe/London", end_offset=1)


def fetch_frames(ds: Dataset, days: list[date], client: ElexonClient, info: dict,
                 log: object | None = None, known: dict[date, tuple[str, int]] | None = None,
                 in_flight: int = 1) -> Iterator[tuple[date, pa.Table | None]]:
    """Fetch, type and validate each day in turn; counters go into ``info`` for metadata.

    Requests run on up to ``in_flight`` threads, a day or more ahead (each still takes its turn
    of the client's rate limit), while the current day is typed and staged. A day the warehouse
    has never merged is typed response by response as they arrive (BOD comes in nine), so
    downloading overlaps typing and one response's rows are in memory at a time. A day it has
    merged is first received whole: if its bodies hash to the digest in ``known`` (what the
    warehouse remembers having merged from that exact response) it is yielded as ``None``
    without being parsed, since nothing about it can change. Digests of the days that were
    typed are left in ``info["body_digests"]`` for the warehouse to remember, in the same
    transaction as the MERGE.
    """
    info.update(rows_fetched=0, rows_outside_partition=0, unknown_fields=[], api_requests=0,
                api_retries=0, api_window_splits=0, api_bytes=0, fetch_seconds=0.0,
                days_unchanged_body=0, body_digests={})
    known = {} if known is None else known
    fingerprint = typing_fingerprint(ds)
    pool = ThreadPoolExecutor(max_workers=max(1, in_flight), thread_name_prefix=f"fetch-{ds.code}")
    pending: deque[tuple[date, list[Future]]] = deque()
    queue = iter(days)

    def received(future: Future) -> list[Body]:
        bodies, stats = future.result()
        info["api_requests"] += stats.requests
        info["api_retries"] += stats.retries
        info["api_window_splits"] += stats.splits
        info["api_bytes"] += stats.bytes
        info["fetch_seconds"] += stats.seconds
        return bodies

    try:
        def top_up() -> None:
            while len(pending) < max(1, in_flight):
                day = next(queue, None)
                if day is None:
                    return
                pending.append((day, [pool.submit(client.fetch_slice_bodies, ds, sl)
                                      for sl in initial_slices(ds, day)]))

        top_up()
        while pending:
            day, futures = pending.popleft()
            top_up()
            digest = DayDigest(fingerprint)
            arriving: Iterator[Body] = digest.passing(b for f in futures for b in received(f))
            del futures
            if day in known:  # received whole first: an unchanged day is never parsed
                bodies = list(arriving)
                if known[day][0] == digest.hexdigest():
                    del bodies
                    info["days_unchanged_body"] += 1
                    info["rows_fetched"] += known[day][1]
                    yield day, None
                    continue
                arriving = iter(bodies)
            tables, received_rows, outside, unknown = [], 0, 0, set()
            for body in arriving:  # typed and freed one response at a time
                rows = parse_body(ds, body)
                del body
                received_rows += len(rows)
                table, report = to_table(ds, day, rows, ingested_utc=datetime.now(UTC))
                del rows
                tables.append(table)
                outside += report.rows_outside_partition
                unknown |= set(report.unknown_fields)
            table = pa.concat_tables(tables)  # every slice answers with at least one body
            del tables
            info["rows_fetched"] += received_rows
            info["rows_outside_partition"] += outside
            info["unknown_fields"] = sorted(set(info["unknown_fields"]) | unknown)
            if unknown and log is not None:
                log.warning(f"{ds.code} {day}: API sent fields the registry does not know, kept in "
                            f"_extra: {sorted(unknown)}")
            if table.num_rows == 0 and not ds.allow_empty:
                raise EmptyPartition(
                    f"{ds.code} partition {day}: the API returned {received_rows} row(s) and none "
                    f"belong to this settlement day; {ds.code} always has data, so this partition fails "
                    "rather than succeed empty (re-run it once Elexon has published the day)")
            info["body_digests"][day] = digest.hexdigest()
            yield day, table
    finally:
        for _, futures in pending:
            for future in futures:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
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
        known: dict[date, tuple[str, int]] = {}  # filled by the warehouse before it reads the frames
        frames = fetch_frames(ds, days, elexon.client(), info, context.log, known=known, in_flight=elexon.in_flight)
        return PartitionBatch(ds, days, frames, info, known_bodies=known)

    return dataset_asset


def build_dataset_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_dataset_asset(ds, partitions) for ds in REGISTRY.values()]
