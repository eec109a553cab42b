"""The BigQuery warehouse backend: the same MERGE contract as DuckDB, on tables of a BigQuery dataset.

Dagster's stock BigQuery IO managers delete a partition and re-insert it (not atomically, and an
empty frame wipes the partition). This backend never deletes. A write:

1. spools the batch's frames to a local Parquet file (so a range never sits in memory whole and a
   failing fetch touches nothing in BigQuery);
2. creates the target table from the registry if needed (explicit types, day-partitioned on the
   partition column, clustered on the leading natural-key columns) or adds, nullable, any column
   the registry gained since (``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``; never recreated);
3. loads the file into a staging table (explicit schema, an expiration so a crash cannot leave it
   behind for ever);
4. runs one classification ``SELECT`` and then ONE ``MERGE`` statement, both de-duplicating the
   staging rows on the natural key (highest revision column wins, then the row sent last) and
   restricting the target to the partition range with a constant filter so BigQuery prunes
   partitions: the cost follows the partitions written, not the table;
5. drops the staging table in a ``finally``.

The statements and schemas are built by the pure functions of ``bigquery_sql.py``.

Per-day counts: BigQuery has no ``MERGE ... RETURNING``. Totals come from the MERGE job's
statistics (``dml_stats``: inserted/updated row counts; where a server returns no ``dmlStats``
only ``num_dml_affected_rows``). Per-day inserted/updated/unchanged come from the classification
query run just before the MERGE over the same staging rows joined to the same partition range
with the same key and hash conditions. The two are compared: they can only differ if another
writer changed those partitions between the two jobs, in which case the per-day figures are
flagged as inexact (``per_day_exact=False``), a warning is logged, and the totals reported are
the job's own.

No multi-statement transaction: a single MERGE is atomic on its own and the classification only
reads. Wrapping both in a script would move the MERGE's ``dmlStats`` into a child job (which the
test emulator does not list) and BigQuery sessions, which would keep them as separate jobs inside
one transaction, are not emulated; a stray concurrent writer is detected instead (see above).
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from bmrs_assets.core.tables import Kind, table_columns
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.settings import value
from bmrs_assets.warehouse.arrow import to_arrow
from bmrs_assets.warehouse.bigquery_sql import (
    API_TYPE_NAMES,
    BQ_TYPES,
    DIGESTS_SCHEMA,
    ORDINAL,
    bq_quote,
    check_key_types,
    classify_sql,
    clustering_fields,
    day_expr,
    deletions_sql,
    merge_sql,
    partition_filter,
    remember_sql,
    remembered_sql,
    stage_schema,
    table_ref,
    table_schema,
)
from bmrs_assets.warehouse.contract import (
    DIGESTS_TABLE,
    DayCounts,
    DayFrame,
    DayStats,
    FailedDay,
    KeyCounts,
    MergeResult,
    PartitionBatch,
    RememberedBody,
    UnchangedDay,
    deletable_days,
)
from bmrs_assets.warehouse.crash_points import crash_point

log = logging.getLogger(__name__)

STAGE_PREFIX = "_bmrs_stage_"


@dataclass
class BigQueryMergeResult(MergeResult):
    """A :class:`MergeResult` plus what the MERGE job itself reported."""

    job_inserted: int | None = None
    job_updated: int | None = None
    job_deleted: int | None = None
    job_affected: int | None = None
    bytes_processed: int | None = None
    per_day_exact: bool = True
    merge_sql: str = ""

    def total(self, name: str) -> int:
        """Totals; when the per-day split is known to be off, inserted/updated are the job's own figures."""
        if not self.per_day_exact and self.job_inserted is not None and self.job_updated is not None:
            job = {"inserted": self.job_inserted, "updated": self.job_updated, "deleted": self.job_deleted or 0}
            if name in job:
                return job[name]
            if name == "unchanged":
                return super().total("fetched") - self.job_inserted - self.job_updated - super().total("stale")
        return super().total(name)


@dataclass
class BigQueryWarehouse:
    """Tables ``bmrs_<code>`` in ``project.dataset``.

    This class never reads credentials. ``client_context`` opens the client of one operation: the
    Dagster wiring passes dagster-gcp's ``BigQueryResource.get_client`` (application-default
    credentials, or the service-account key of ``BMRS_BQ_CREDENTIALS``); without it the client is
    ``bigquery.Client(project=..., location=...)`` on application-default credentials.
    ``client_factory`` exists for tests (an emulator endpoint)."""

    project: str | None = None
    dataset: str = "bmrs"
    location: str | None = None
    client_context: Callable[[], AbstractContextManager[bigquery.Client]] | None = None
    client_factory: Callable[[], bigquery.Client] | None = None
    staging_ttl: timedelta = field(default=timedelta(hours=24))
    # a staging table older than this belongs to a crashed write (a live one lasts seconds)
    stale_after: timedelta = field(
        default_factory=lambda: timedelta(seconds=value("BMRS_BQ_STAGING_STALE_S")))

    # --- plumbing ---------------------------------------------------------------------
    @contextmanager
    def _client(self) -> Iterator[bigquery.Client]:
        """A client for one operation, closed after it."""
        if self.client_context is not None:
            with self.client_context() as client:
                try:
                    yield client
                finally:
                    client.close()
            return
        if self.client_factory is not None:
            client = self.client_factory()
        else:
            client = bigquery.Client(project=self.project or None, location=self.location or None)
        try:
            yield client
        finally:
            client.close()

    def _project(self, client: bigquery.Client) -> str:
        return self.project or client.project

    def target(self, client: bigquery.Client, ds: Dataset) -> str:
        return table_ref(self._project(client), self.dataset, ds.table)

    def _table_id(self, client: bigquery.Client, name: str) -> str:
        return f"{self._project(client)}.{self.dataset}.{name}"

    def _query(self, client: bigquery.Client, sql: str) -> bigquery.QueryJob:
        job = client.query(sql, location=self.location or None)
        job.result()
        return job

    # --- DDL --------------------------------------------------------------------------
    def ensure_table(self, ds: Dataset, client: bigquery.Client | None = None) -> str:
        """Create the dataset and table if missing, or add (nullable) any column the registry gained.

        Returns the quoted target reference. An existing column whose type differs from the
        registry is refused: changing a type needs a deliberate migration, not a silent cast."""
        if client is None:
            with self._client() as own:
                return self.ensure_table(ds, own)
        check_key_types(ds)
        dataset_id = f"{self._project(client)}.{self.dataset}"
        try:
            client.get_dataset(dataset_id)
        except NotFound:
            ref = bigquery.Dataset(dataset_id)
            if self.location:
                ref.location = self.location
            client.create_dataset(ref, exists_ok=True)
        table_id = self._table_id(client, ds.table)
        try:
            table = client.get_table(table_id)
        except NotFound:
            table = bigquery.Table(table_id, schema=table_schema(ds))
            table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY,
                                                                field=ds.partition_column)
            table.clustering_fields = clustering_fields(ds) or None
            table.description = f"Elexon BMRS {ds.code}: {ds.description} Key: {', '.join(ds.key)}."
            client.create_table(table, exists_ok=True)
            return self.target(client, ds)
        existing = {f.name.lower(): API_TYPE_NAMES.get(f.field_type, f.field_type) for f in table.schema}
        wrong = [f"{c.name} is {existing[c.name.lower()]}, registry says {BQ_TYPES[c.kind]}"
                 for c in table_columns(ds)
                 if c.name.lower() in existing and existing[c.name.lower()] != BQ_TYPES[c.kind]]
        if wrong:
            raise ValueError(f"{table_id}: column types differ from the registry: {'; '.join(wrong)}")
        missing = [c for c in table_columns(ds) if c.name.lower() not in existing]
        for c in missing:  # one statement per column: rare, and portable (the emulator takes one per statement)
            self._query(client, f"ALTER TABLE {self.target(client, ds)} "
                                f"ADD COLUMN IF NOT EXISTS {bq_quote(c.name)} {BQ_TYPES[c.kind]}")
        return self.target(client, ds)

    # --- the write --------------------------------------------------------------------
    def publish(self, changed: bool = True) -> None:
        """Nothing to do: a committed MERGE is what every reader sees."""

    def merge(self, batch: PartitionBatch) -> BigQueryMergeResult:
        ds = batch.dataset
        first, last = min(batch.days), max(batch.days)
        with tempfile.TemporaryDirectory(prefix="bmrs_bq_") as tmp:
            path = Path(tmp) / "stage.parquet"
            staged, unchanged = spool_parquet(ds, batch.frames, path)  # a failing fetch stops here: nothing touched
            with self._client() as client:
                target = self.ensure_table(ds, client)
                result = BigQueryMergeResult(ds.code, {d: DayCounts() for d in batch.days})
                if staged:
                    started = time.perf_counter()
                    self._drop_stale_stages(client, ds)
                    stage_name = self._create_stage(client, ds)
                    stage_id = self._table_id(client, stage_name)
                    try:
                        self._load_stage(client, ds, stage_id, path, staged)
                        crash_point("bigquery:staged")
                        stage = table_ref(self._project(client), self.dataset, stage_name)
                        repair = bool(batch.repair_days)
                        plan = self._classify(client, ds, target, stage, first, last, repair)
                        whole = deletable_days(batch, plan, {d: c.stale for d, c in plan.items()})
                        if whole:
                            self._count_deletions(client, ds, target, stage, whole, plan)
                        sql = merge_sql(ds, target, stage, first, last, repair, whole)
                        job = self._run_merge(client, sql)
                        crash_point("bigquery:merged")
                    finally:
                        self._drop_stage(client, stage_id)
                    result.merge_sql = sql
                    result.seconds = time.perf_counter() - started
                    self._account(result, plan, job, staged, batch.days)
                for day, n in unchanged.items():
                    result.days[day] = DayCounts(fetched=n, unchanged=n)
                self._remember_bodies(client, ds, {d: (digest, result.days[d].fetched)
                                                   for d, digest in batch.body_digests.items() if d in result.days})
        return result

    # --- response digests -------------------------------------------------------------
    def remembered_digests(self, ds: Dataset, days: list[date]) -> dict[date, RememberedBody]:
        """What the dataset remembers of each day's last merged response: (body digest, rows), for the
        days whose stored rows still are what that MERGE left (rows and checksum): a day deleted or
        damaged since is parsed and MERGEd again."""
        if not days:
            return {}
        with self._client() as client:
            try:
                client.get_table(self._table_id(client, DIGESTS_TABLE))
            except NotFound:
                return {}
            if not self._exists(client, ds):
                return {}
            job = self._query(client, remembered_sql(self._digests_ref(client), ds, self.target(client, ds),
                                                     min(days), max(days)))
            return {(r["day"] if isinstance(r["day"], date) else pd.Timestamp(r["day"]).date()):
                    RememberedBody(r["digest"], int(r["rows"]), bool(r["intact"])) for r in job.result()}

    def _digests_ref(self, client: bigquery.Client) -> str:
        return table_ref(self._project(client), self.dataset, DIGESTS_TABLE)

    def _remember_bodies(self, client: bigquery.Client, ds: Dataset, digests: dict[date, tuple[str, int]]) -> None:
        """Record each merged day's body digest, after its MERGE has committed.

        Not in the MERGE's transaction (see the module docstring), but after it: a crash in between
        leaves a committed day without its digest, which costs the next run a parse, never a day.
        A failure to record is logged, not raised: the data is committed either way."""
        if not digests:
            return
        try:
            table = bigquery.Table(self._table_id(client, DIGESTS_TABLE), schema=DIGESTS_SCHEMA)
            table.description = "bmrs_assets: digest of the response bodies each dataset day was last merged from"
            table = client.create_table(table, exists_ok=True)  # the stored table, if it existed
            if "stored_check" not in {f.name for f in table.schema}:
                self._query(client, f"ALTER TABLE {self._digests_ref(client)} ADD COLUMN IF NOT EXISTS stored_check INT64")
            self._query(client, remember_sql(self._digests_ref(client), ds, self.target(client, ds), digests))
        except Exception as exc:
            log.warning("%s: could not record response digests of %d day(s) (they will be parsed again next "
                        "time): %s", ds.code, len(digests), exc)

    def _drop_stale_stages(self, client: bigquery.Client, ds: Dataset) -> None:
        """Drop staging tables of ``ds`` that a crashed writer left behind (older than
        ``stale_after``), so none outlives the next run even where expiration is not honoured."""
        prefix = f"{STAGE_PREFIX}{ds.table}_"
        cutoff = datetime.now(UTC) - self.stale_after
        for item in client.list_tables(f"{self._project(client)}.{self.dataset}"):
            if not item.table_id.startswith(prefix):
                continue
            created = item.created
            if (created is None and self.stale_after.total_seconds() == 0) or (created is not None and created <= cutoff):
                log.warning("dropping staging table %s left by a crashed write", item.table_id)
                client.delete_table(item.reference, not_found_ok=True)

    def _create_stage(self, client: bigquery.Client, ds: Dataset) -> str:
        """An empty staging table with an expiration, so a crash cannot leave it forever."""
        name = f"{STAGE_PREFIX}{ds.table}_{uuid.uuid4().hex[:12]}"
        table = bigquery.Table(self._table_id(client, name), schema=stage_schema(ds))
        table.expires = datetime.now(UTC) + self.staging_ttl
        table.description = "bmrs_assets staging table; dropped after the MERGE, expires by itself otherwise"
        client.create_table(table)
        return name

    def _drop_stage(self, client: bigquery.Client, stage_id: str) -> None:
        """Drop the staging table. A failed drop is logged, not raised: it must neither mask the
        error of a failed write nor fail a committed one, and the table expires by itself."""
        try:
            client.delete_table(stage_id, not_found_ok=True)
        except Exception as exc:
            log.warning("could not drop staging table %s (it expires within %s): %s", stage_id, self.staging_ttl, exc)

    def _load_stage(self, client: bigquery.Client, ds: Dataset, stage_id: str, path: Path, rows: int) -> None:
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=stage_schema(ds),
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )
        with path.open("rb") as fh:
            job = client.load_table_from_file(fh, stage_id, job_config=config, location=self.location or None)
        job.result()
        if job.output_rows is not None and job.output_rows != rows:
            raise RuntimeError(f"{stage_id}: loaded {job.output_rows} rows, expected {rows}")

    def _classify(self, client: bigquery.Client, ds: Dataset, target: str, stage: str,
                  first: date, last: date, repair: bool = False) -> dict[date, DayCounts]:
        job = self._query(client, classify_sql(ds, target, stage, first, last, repair))
        plan: dict[date, DayCounts] = {}
        for row in job.result():
            day = row["day"] if isinstance(row["day"], date) else pd.Timestamp(row["day"]).date()
            plan[day] = DayCounts(fetched=row["fetched"], inserted=row["inserted"], updated=row["updated"],
                                  stale=row["stale"])
        return plan

    def _count_deletions(self, client: bigquery.Client, ds: Dataset, target: str, stage: str, days: list[date],
                         plan: dict[date, DayCounts]) -> None:
        for row in self._query(client, deletions_sql(ds, target, stage, days)).result():
            day = row["day"] if isinstance(row["day"], date) else pd.Timestamp(row["day"]).date()
            plan.setdefault(day, DayCounts()).deleted = int(row["deleted"])

    def _run_merge(self, client: bigquery.Client, sql: str) -> bigquery.QueryJob:
        return self._query(client, sql)

    @staticmethod
    def _account(result: BigQueryMergeResult, plan: dict[date, DayCounts], job: bigquery.QueryJob,
                 staged: int, days: list[date]) -> None:
        """Per-day counts from the classification, totals checked against the MERGE job statistics."""
        for day, counts in plan.items():
            counts.unchanged = counts.fetched - counts.inserted - counts.updated - counts.stale
            result.days[day] = counts
        for day in days:
            result.days.setdefault(day, DayCounts())
        result.duplicates_in_batch = staged - result.total("fetched")
        planned = tuple(MergeResult.total(result, name) for name in ("inserted", "updated", "deleted"))
        stats = job.dml_stats
        result.job_affected = job.num_dml_affected_rows
        result.bytes_processed = job.total_bytes_processed
        if stats is not None:
            result.job_inserted, result.job_updated = stats.inserted_row_count, stats.updated_row_count
            result.job_deleted = stats.deleted_row_count
            result.per_day_exact = (result.job_inserted, result.job_updated, result.job_deleted) == planned
        elif result.job_affected is not None:
            result.per_day_exact = result.job_affected == sum(planned)
        if not result.per_day_exact:
            log.warning("%s: MERGE job reported inserted=%s updated=%s deleted=%s affected=%s but the "
                        "classification planned inserted=%s updated=%s deleted=%s; another writer changed these "
                        "partitions meanwhile, per-day counts are approximate", result.dataset, result.job_inserted,
                        result.job_updated, result.job_deleted, result.job_affected, *planned)

    # --- reads ------------------------------------------------------------------------
    def _exists(self, client: bigquery.Client, ds: Dataset) -> bool:
        try:
            client.get_table(self._table_id(client, ds.table))
            return True
        except NotFound:
            return False

    def read(self, ds: Dataset, first: date, last: date) -> pd.DataFrame:
        """Rows of the partition days first..last, ordered by key (empty frame if no table).
        JSON columns come back as their JSON text, as from DuckDB."""
        with self._client() as client:
            if not self._exists(client, ds):
                return pd.DataFrame(columns=[c.name for c in table_columns(ds)])
            json_cols = [c.name for c in table_columns(ds) if c.kind is Kind.JSON]
            replace = (" REPLACE (" + ", ".join(f"TO_JSON_STRING({bq_quote(n)}) AS {bq_quote(n)}" for n in json_cols)
                       + ")") if json_cols else ""
            order = ", ".join(bq_quote(k) for k in ds.key)
            job = self._query(client, f"SELECT *{replace} FROM {self.target(client, ds)} AS T "
                                      f"WHERE {partition_filter(ds, 'T', first, last)} ORDER BY {order}")
            return job.to_arrow(create_bqstorage_client=False).to_pandas()

    def count_by_day(self, ds: Dataset, first: date, last: date) -> dict[date, int]:
        with self._client() as client:
            if not self._exists(client, ds):
                return {}
            job = self._query(client, f"SELECT {day_expr(ds, 'T')} AS day, COUNT(*) AS n "
                                      f"FROM {self.target(client, ds)} AS T "
                                      f"WHERE {partition_filter(ds, 'T', first, last)} GROUP BY day")
            return {row["day"]: row["n"] for row in job.result()}

    def day_stats(self, ds: Dataset, first: date, last: date) -> dict[date, DayStats]:
        """Rows, distinct periods and per-group rows of each stored partition day in the range."""
        with self._client() as client:
            if not self._exists(client, ds):
                return {}
            table, where = self.target(client, ds), partition_filter(ds, "T", first, last)
            period = f"T.{bq_quote(ds.period_column)}" if ds.period_column else "NULL"
            group = f"CAST(T.{bq_quote(ds.completeness.group_by)} AS STRING)" if ds.completeness.group_by else "''"
            periods = {row["day"]: row["n"] for row in self._query(
                client, f"SELECT {day_expr(ds, 'T')} AS day, COUNT(DISTINCT {period}) AS n FROM {table} AS T "
                        f"WHERE {where} GROUP BY day").result()}
            out: dict[date, DayStats] = {}
            for row in self._query(client, f"SELECT {day_expr(ds, 'T')} AS day, {group} AS g, COUNT(*) AS n "
                                           f"FROM {table} AS T WHERE {where} GROUP BY day, g").result():
                stats = out.setdefault(row["day"], DayStats(periods=periods.get(row["day"], 0)))
                stats.rows += row["n"]
                if ds.completeness.group_by:
                    stats.groups[str(row["g"])] = row["n"]
            return out

    def key_counts(self, ds: Dataset, first: date, last: date) -> KeyCounts:
        """Rows of the range and keys occurring more than once among them, in one query."""
        with self._client() as client:
            if not self._exists(client, ds):
                return KeyCounts(0, 0)
            keys = ", ".join(bq_quote(k) for k in ds.key)
            job = self._query(client, f"SELECT IFNULL(SUM(n), 0) AS n_rows, COUNTIF(n > 1) AS n_dup FROM "
                                      f"(SELECT COUNT(*) AS n FROM {self.target(client, ds)} AS T "
                                      f"WHERE {partition_filter(ds, 'T', first, last)} GROUP BY {keys})")
            row = next(iter(job.result()))
            return KeyCounts(int(row["n_rows"]), int(row["n_dup"]))

    def staging_tables(self) -> list[str]:
        """Staging tables currently in the dataset (normally none: each write drops its own)."""
        with self._client() as client:
            try:
                tables = list(client.list_tables(f"{self._project(client)}.{self.dataset}"))
            except NotFound:
                return []
            return sorted(t.table_id for t in tables if t.table_id.startswith(STAGE_PREFIX))


def spool_parquet(ds: Dataset, frames: Iterable[tuple[date, DayFrame]], path: Path) -> tuple[int, dict[date, int]]:
    """Write the frames, typed exactly as the registry says, to one Parquet file; return the row
    count and the rows of each :class:`UnchangedDay` (nothing to write for those).

    ``_ordinal`` numbers rows in the order they came, which breaks revision ties in the MERGE."""
    writer: pq.ParquetWriter | None = None
    ordinal = 0
    unchanged: dict[date, int] = {}
    try:
        for day, frame in frames:
            if isinstance(frame, UnchangedDay):
                unchanged[day] = frame.rows
                continue
            if isinstance(frame, FailedDay):
                raise ValueError(f"{ds.code} partition {day}: a failed day reached the warehouse ({frame.reason})")
            if len(frame) == 0:
                continue
            arrow = to_arrow(ds, frame)
            arrow = arrow.append_column(ORDINAL, pa.array(range(ordinal + 1, ordinal + 1 + len(frame)), pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(path, arrow.schema)
            writer.write_table(arrow)
            ordinal += len(frame)
    finally:
        if writer is not None:
            writer.close()
    return ordinal, unchanged
