"""The embedded DuckDB warehouse backend.

Frames are staged in a private in-memory DuckDB while they are fetched, so the warehouse file is
locked only for the MERGE itself; then the file is attached and one transaction creates or widens
the table and runs one ``MERGE INTO`` on the natural key (null-safe), restricted to the partition
range being written (and, for a current-state table, deletes the withdrawn rows of the days that
came whole: see :func:`delete_sql`), and remembers a digest of each day's response bodies (``_bmrs_response_digests``)
so that a re-run can recognise an unchanged response before parsing it. A write that changed rows
then publishes the analysts' read-only copy, ``<file stem>.read.duckdb`` (:mod:`.duckdb_snapshot`), so
that no reader ever holds the file a run writes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from bmrs_assets.core.tables import table_columns
from bmrs_assets.elexon.datasets import Dataset
from bmrs_assets.warehouse.arrow import arrow_schema, release_memory, to_arrow
from bmrs_assets.warehouse.contract import (
    DIGESTS_TABLE,
    UNIQUE_KEY,
    DayCounts,
    DayFrame,
    DayStats,
    KeyCounts,
    MergeResult,
    PartitionBatch,
    RememberedBody,
    UnchangedDay,
    deletable_days,
    partition_bounds,
    partition_day_of,
    quote,
    tally,
)
from bmrs_assets.warehouse.crash_points import crash_point
from bmrs_assets.warehouse.duckdb_snapshot import publish, snapshot_path
from bmrs_assets.warehouse.duckdb_sql import (
    DUCKDB_TYPES,
    create_table_sql,
    dedup_sql,
    delete_sql,
    insert_sql,
    merge_sql,
    partition_filter,
    stale_sql,
)

LOCK_RETRY_SECONDS = 120.0
KEY_COUNT_ROWS = 500_000  # about this many rows per query of key_counts (keys holding the partition column)


def _connect_memory() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _has_duplicate_keys(con: duckdb.DuckDBPyConnection, table: pa.Table, key: list[str]) -> bool:
    """Whether any key occurs twice in ``table`` (GROUP BY treats nulls as equal, as IS NOT DISTINCT FROM)."""
    if table.num_rows < 2:
        return False
    con.register("keys_to_check", table)
    try:
        keys = ", ".join(quote(k) for k in key)
        return con.execute(f"SELECT EXISTS (SELECT 1 FROM keys_to_check GROUP BY {keys} HAVING count(*) > 1)"
                           ).fetchone()[0]
    finally:
        con.unregister("keys_to_check")


def _action_counts(con: duckdb.DuckDBPyConnection, actions: pa.Table) -> list[tuple[str, object, int]]:
    """(action, partition value, rows) from the rows the MERGE returned, grouped without Python per row."""
    con.register("merge_actions", actions)
    try:
        return con.execute("SELECT *, count(*) FROM merge_actions GROUP BY ALL").fetchall()
    finally:
        con.unregister("merge_actions")


def _stored_checks(con: duckdb.DuckDBPyConnection, ds: Dataset, bounds: tuple[object, object]) -> dict[date, tuple[int, int]]:
    """Per stored partition day in ``bounds``: (rows, XOR of every row's hash, all columns).

    Any change to the day - a row deleted, added, or a value edited - changes it; cheap next to
    parsing (one scan, no sort). Compared only with what this backend recorded."""
    out: dict[date, tuple[int, int]] = {}
    rows = con.execute(f"SELECT {quote(ds.partition_column)}, count(*), bit_xor(hash(T)) FROM wh.main.{quote(ds.table)} "
                       f"AS T WHERE {partition_filter(ds, 'T', 1)} GROUP BY 1", list(bounds)).fetchall()
    for value, n, check in rows:
        day = partition_day_of(ds, value)
        seen_n, seen_check = out.get(day, (0, 0))
        out[day] = (seen_n + n, seen_check ^ int(check))
    return out


@dataclass
class _Staged:
    """A batch's frames as Arrow, numbered in the order they came (``_ordinal``), before the write.

    Kept as typed: DuckDB scans them in place, never copied."""

    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    unchanged: dict[date, int] = field(default_factory=dict)  # day -> rows of an unchanged response
    duplicate_in_a_day: bool = False  # only looked for when the key holds the partition column


def _stage(con: duckdb.DuckDBPyConnection, ds: Dataset, frames: Iterable[tuple[date, DayFrame]]) -> _Staged:
    """Read the frames, keeping each day's Arrow table; unchanged days are only counted.

    A key that holds the partition column cannot repeat across days: checking each day as it comes
    is then enough, and far cheaper in memory than one hash of the whole range's keys."""
    staged = _Staged()
    per_day_check = ds.partition_column in ds.key
    for day, frame in frames:
        if isinstance(frame, UnchangedDay):  # the response the warehouse last merged for this day
            staged.unchanged[day] = frame.rows
            continue
        if len(frame) == 0:
            continue
        arrow = to_arrow(ds, frame)
        del frame
        n = arrow.num_rows
        if per_day_check and not staged.duplicate_in_a_day and UNIQUE_KEY not in (arrow.schema.metadata or {}):
            staged.duplicate_in_a_day = _has_duplicate_keys(con, arrow, list(ds.key))
        staged.tables.append(arrow.append_column(
            pa.field("_ordinal", pa.int64(), nullable=False),
            pa.array(np.arange(staged.rows + 1, staged.rows + 1 + n, dtype=np.int64))))
        staged.rows += n
        del arrow
    return staged


def _register_source(con: duckdb.DuckDBPyConnection, ds: Dataset, staged: _Staged) -> bool:
    """Make ``src`` the MERGE's source; return whether any key occurs twice (then ``src`` is de-duplicated).

    No key twice (the common case): ``src`` is a view of the staged tables as they are, registered
    as ``stage``. Otherwise ``src`` is a temporary table of the winning rows and the staged tables
    are let go."""
    schema = arrow_schema(ds).append(pa.field("_ordinal", pa.int64(), nullable=False))
    stage = pa.concat_tables(staged.tables) if staged.tables else schema.empty_table()
    per_day_check = ds.partition_column in ds.key
    has_duplicates = staged.duplicate_in_a_day if per_day_check else _has_duplicate_keys(con, stage, list(ds.key))
    con.register("stage", stage)
    del stage  # held by the registration only, so that unregistering frees it
    if has_duplicates:
        con.execute(f"CREATE TEMP TABLE src AS {dedup_sql(ds, 'stage')}")
        con.unregister("stage")
        staged.tables.clear()
    else:
        con.execute('CREATE TEMP VIEW src AS SELECT * EXCLUDE ("_ordinal") FROM stage')
    return has_duplicates


def _fetched_per_day(con: duckdb.DuckDBPyConnection, ds: Dataset) -> Counter:
    """Rows of ``src`` per partition day (after de-duplication)."""
    fetched: Counter = Counter()
    for value, n in con.execute(f"SELECT {quote(ds.partition_column)}, count(*) FROM src GROUP BY 1").fetchall():
        fetched[partition_day_of(ds, value)] += n
    return fetched


def _merge_or_insert(con: duckdb.DuckDBPyConnection, batch: PartitionBatch, staged: _Staged,
                     fetched: Counter, has_duplicates: bool) -> dict[date, DayCounts]:
    """Write ``src`` into the attached table; per-day counts.

    With rows already stored in the range: one MERGE, counted from its ``RETURNING`` rows, then the
    withdrawn rows of the days that may delete (:func:`deletable_days`). With none
    (a first load) the MERGE, whose ON clause only matches rows inside the range, would insert every
    row: a plain INSERT does just that with half the memory (no join, no RETURNING), and day by day,
    each day's Arrow freed once written, when the staged rows are the source as they are."""
    ds, days, repair = batch.dataset, batch.days, batch.repair_days
    first, last = partition_bounds(ds, min(days), max(days))
    target = f"wh.main.{quote(ds.table)}"
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM {target} AS T WHERE {partition_filter(ds, 'T', 1)})",
                   [first, last]).fetchone()[0]:
        stale: Counter = Counter()
        if ds.revision_column:
            for value, n in con.execute(stale_sql(ds, target, "src"), [first, last]).fetchall():
                stale[partition_day_of(ds, value)] += n
        actions = _action_counts(con, con.execute(merge_sql(ds, target, "src", bool(repair)), [first, last]).to_arrow_table())
        whole = deletable_days(batch, fetched, stale)
        if whole:
            actions += _action_counts(con, con.execute(delete_sql(ds, target, "src", whole)).to_arrow_table())
        return tally(ds, iter(actions), fetched, days, stale)
    if has_duplicates:
        con.execute(insert_sql(ds, target, "src"))
    else:  # day by day: a third of the peak memory
        con.execute("DROP VIEW src")
        con.unregister("stage")
        while staged.tables:
            con.register("day_rows", staged.tables.pop(0))
            con.execute(insert_sql(ds, target, "day_rows"))
            con.unregister("day_rows")
    return {d: DayCounts(fetched=fetched.get(d, 0), inserted=fetched.get(d, 0)) for d in days}


@dataclass
class DuckDBWarehouse:
    """A DuckDB file holding one table per dataset."""

    path: str

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool = False) -> None:
        if read_only and not Path(self.path).exists():
            con.execute("ATTACH ':memory:' AS wh")  # no warehouse yet: an empty one, not an error
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        mode = " (READ_ONLY)" if read_only else ""
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        while True:
            try:
                con.execute(f"ATTACH '{self.path.replace(chr(39), chr(39) * 2)}' AS wh{mode}")
                return
            except duckdb.IOException as exc:  # another process holds the write lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def ensure_table(self, con: duckdb.DuckDBPyConnection, ds: Dataset) -> None:
        """Create the table, or add (nullable) any column the registry gained since."""
        target = f"wh.main.{quote(ds.table)}"
        con.execute(create_table_sql(ds, target))
        existing = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = ?",
            [ds.table]).fetchall()}
        for c in table_columns(ds):
            if c.name not in existing:
                con.execute(f"ALTER TABLE {target} ADD COLUMN {quote(c.name)} {DUCKDB_TYPES[c.kind]}")

    def merge(self, batch: PartitionBatch) -> MergeResult:
        """Stage the frames in memory, then write them in one transaction on the warehouse file."""
        ds = batch.dataset
        con = _connect_memory()
        try:
            staged = _stage(con, ds, batch.frames)
            started = time.perf_counter()
            release_memory()
            has_duplicates = _register_source(con, ds, staged)
            fetched = _fetched_per_day(con, ds)
            duplicates = staged.rows - sum(fetched.values())
            crash_point("duckdb:staged")
            counts = self._write(con, batch, staged, fetched, has_duplicates)
            result = MergeResult(ds.code, counts, duplicates)
            result.seconds = time.perf_counter() - started
            return result
        finally:
            con.close()

    def _write(self, con: duckdb.DuckDBPyConnection, batch: PartitionBatch, staged: _Staged, fetched: Counter,
               has_duplicates: bool) -> dict[date, DayCounts]:
        """One transaction on the attached file: the table, its rows, the response digests; all or nothing.

        Then, when rows changed (or there is none yet), the readers' snapshot is published
        (:mod:`~bmrs_assets.warehouse.duckdb_snapshot`): a reader never holds the file written here.
        A range's chunks (``batch.publish`` false) leave that to :meth:`publish`."""
        ds = batch.dataset
        self._attach(con)
        try:
            try:
                con.execute("BEGIN TRANSACTION")
                self.ensure_table(con, ds)
                counts = _merge_or_insert(con, batch, staged, fetched, has_duplicates)
                for day, n in staged.unchanged.items():
                    counts[day] = DayCounts(fetched=n, unchanged=n)
                self._remember_bodies(con, ds, {d: (digest, counts[d].fetched) for d, digest in batch.body_digests.items()},
                                      partition_bounds(ds, min(batch.days), max(batch.days)))
                crash_point("duckdb:merged-uncommitted")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if batch.publish and self._snapshot_due(any(c.changed for c in counts.values())):
                publish(con, "wh", self.path)  # still holding the lock: no other writer is half way through
            return counts
        finally:
            con.execute("DETACH wh")

    def _snapshot_due(self, changed: bool) -> bool:
        """Whether the readers' snapshot needs refreshing: rows changed, or there is none."""
        return changed or not snapshot_path(self.path).exists()

    def publish(self, changed: bool = True) -> None:
        """Refresh the readers' snapshot (when ``changed``, or when there is none), holding the write lock."""
        if not self._snapshot_due(changed):
            return
        con = _connect_memory()
        try:
            self._attach(con)
            try:
                publish(con, "wh", self.path)
            finally:
                con.execute("DETACH wh")
        finally:
            con.close()

    def remembered_digests(self, ds: Dataset, days: list[date]) -> dict[date, RememberedBody]:
        """What the warehouse remembers of each day's last merged response: (body digest, rows).

        ``intact`` says whether the stored rows still are what that MERGE left (their count and a
        checksum of every row, :func:`_stored_checks`): a day deleted, damaged or edited since is
        parsed and MERGEd again by the next run, column by column, which repairs it."""
        if not days or not Path(self.path).exists():
            return {}
        con = _connect_memory()
        try:
            self._attach(con, read_only=True)
            columns = {r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = ?",
                [DIGESTS_TABLE]).fetchall()}
            if "stored_check" not in columns or not self._exists(con, ds):
                return {}  # nothing remembered, or remembered without a check: parsed once more
            rows = con.execute(f"SELECT day, digest, rows, stored_check FROM wh.main.{DIGESTS_TABLE} "
                               "WHERE dataset = ? AND day BETWEEN ? AND ?", [ds.code, min(days), max(days)]).fetchall()
            stored = _stored_checks(con, ds, partition_bounds(ds, min(days), max(days)))
            return {d: RememberedBody(digest, n, check is not None and stored.get(d) == (n, int(check)))
                    for d, digest, n, check in rows}
        finally:
            con.close()

    @staticmethod
    def _remember_bodies(con: duckdb.DuckDBPyConnection, ds: Dataset, digests: dict[date, tuple[str, int]],
                         bounds: tuple[object, object]) -> None:
        """Record each merged day's body digest and its stored rows' checksum, inside the MERGE's
        transaction (both or neither)."""
        if not digests:
            return
        con.execute(f"CREATE TABLE IF NOT EXISTS wh.main.{DIGESTS_TABLE} (dataset VARCHAR NOT NULL, day DATE NOT NULL, "
                    "digest VARCHAR NOT NULL, rows BIGINT NOT NULL, recorded_utc TIMESTAMPTZ NOT NULL, "
                    "stored_check UBIGINT, PRIMARY KEY (dataset, day))")
        con.execute(f"ALTER TABLE wh.main.{DIGESTS_TABLE} ADD COLUMN IF NOT EXISTS stored_check UBIGINT")
        stored = _stored_checks(con, ds, bounds)
        con.executemany(f"INSERT OR REPLACE INTO wh.main.{DIGESTS_TABLE} (dataset, day, digest, rows, recorded_utc, "
                        "stored_check) VALUES (?, ?, ?, ?, now(), ?)",
                        [[ds.code, d, digest, n, stored.get(d, (0, 0))[1]] for d, (digest, n) in sorted(digests.items())])

    def read(self, ds: Dataset, first: date, last: date) -> pd.DataFrame:
        """Rows of the partition days first..last, ordered by key (empty frame if no table)."""
        con = _connect_memory()
        try:
            self._attach(con, read_only=True)
            if not self._exists(con, ds):
                return pd.DataFrame(columns=[c.name for c in table_columns(ds)])
            order = ", ".join(quote(k) for k in ds.key)
            return con.execute(
                f"SELECT * FROM wh.main.{quote(ds.table)} AS T WHERE {partition_filter(ds, 'T', 1)} ORDER BY {order}",
                list(partition_bounds(ds, first, last))).df()
        finally:
            con.close()

    def count_by_day(self, ds: Dataset, first: date, last: date) -> dict[date, int]:
        con = _connect_memory()
        try:
            self._attach(con, read_only=True)
            if not self._exists(con, ds):
                return {}
            out: Counter = Counter()
            rows = con.execute(
                f"SELECT {quote(ds.partition_column)}, count(*) FROM wh.main.{quote(ds.table)} AS T "
                f"WHERE {partition_filter(ds, 'T', 1)} GROUP BY 1", list(partition_bounds(ds, first, last))).fetchall()
            for value, n in rows:
                out[partition_day_of(ds, value)] += n
            return dict(out)
        finally:
            con.close()

    def day_stats(self, ds: Dataset, first: date, last: date) -> dict[date, DayStats]:
        """Rows, distinct periods and per-group rows of each stored partition day in the range."""
        con = _connect_memory()
        try:
            self._attach(con, read_only=True)
            if not self._exists(con, ds):
                return {}
            con.execute("SET TimeZone = 'Europe/London'")  # so a TIMESTAMPTZ casts to its London day
            day = f"CAST(T.{quote(ds.partition_column)} AS DATE)"
            period = f"T.{quote(ds.period_column)}" if ds.period_column else "NULL"
            group = f"T.{quote(ds.completeness.group_by)}" if ds.completeness.group_by else "NULL"
            rows = con.execute(
                f"SELECT {day} AS d, {group} AS g, count(*), count(DISTINCT {period}) FROM wh.main.{quote(ds.table)} AS T "
                f"WHERE {partition_filter(ds, 'T', 1)} GROUP BY ALL", list(partition_bounds(ds, first, last))).fetchall()
            periods = dict(con.execute(
                f"SELECT {day}, count(DISTINCT {period}) FROM wh.main.{quote(ds.table)} AS T "
                f"WHERE {partition_filter(ds, 'T', 1)} GROUP BY ALL", list(partition_bounds(ds, first, last))).fetchall())
            out: dict[date, DayStats] = {}
            for d, g, n, _ in rows:
                stats = out.setdefault(d, DayStats(periods=periods.get(d, 0)))
                stats.rows += n
                if ds.completeness.group_by:
                    stats.groups[str(g)] = n
            return out
        finally:
            con.close()

    def key_counts(self, ds: Dataset, first: date, last: date) -> KeyCounts:
        """Rows of the range and keys occurring more than once among them.

        A key that holds the partition column cannot repeat across days, so the range is counted a
        few days at a time (about :data:`KEY_COUNT_ROWS` rows a query): the hash of the keys, the
        memory this costs, follows those days and not the range (a year of BOD is 100 M keys)."""
        con = _connect_memory()
        try:
            self._attach(con, read_only=True)
            if not self._exists(con, ds):
                return KeyCounts(0, 0)
            keys = ", ".join(quote(k) for k in ds.key)
            sql = (f"SELECT coalesce(sum(n), 0), count(*) FILTER (WHERE n > 1) FROM (SELECT count(*) AS n "
                   f"FROM wh.main.{quote(ds.table)} AS T WHERE {partition_filter(ds, 'T', 1)} GROUP BY {keys})")
            step = max(1, KEY_COUNT_ROWS // ds.rows_per_day) if ds.partition_column in ds.key else (last - first).days + 1
            rows = duplicates = 0
            start = first
            while start <= last:
                end = min(last, start + timedelta(days=step - 1))
                n, d = con.execute(sql, list(partition_bounds(ds, start, end))).fetchone()
                rows, duplicates = rows + int(n), duplicates + int(d)
                start = end + timedelta(days=1)
            return KeyCounts(rows, duplicates)
        finally:
            con.close()

    @staticmethod
    def _exists(con: duckdb.DuckDBPyConnection, ds: Dataset) -> bool:
        return bool(con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'wh' AND table_name = ?",
            [ds.table]).fetchone()[0])
